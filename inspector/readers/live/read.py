"""A live ``keras.Model`` (or layer) as a ModelGraph: walked when it has a layer
graph, traced otherwise. The entry point of :func:`inspector.read` for objects, and of
``--load`` (:func:`read_loaded`), where a legacy file only tf-keras loads is read with it.
"""
from __future__ import annotations

from typing import Any, Callable

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.readers.live.loading import import_keras, load_file
from inspector.readers.live.nodes import has_graph
from inspector.readers.live.trace import TraceFailed, live_graph, trace


def read_model(model: Any) -> ModelGraph:
    """Graph of a live ``keras.Model`` (or layer): walked when it has a graph, traced otherwise.

    Raises :class:`inspector.readers.live.trace.TraceFailed` (an ``InspectorError`` carrying
    the partial graph as ``.result``) when a subclassed model's ``call`` fails.
    """
    keras = import_keras()
    if not isinstance(model, keras.layers.Layer):
        if type(model).__module__.startswith("tf_keras"):
            raise InspectorError("tf-keras (Keras 2) models are read from their saved file: "
                                 "model.save('m.h5'), then inspector.read('m.h5')")
        raise InspectorError(f"cannot read a {type(model).__name__}: pass a keras.Model or a path "
                             "to a .keras or .h5 file")
    if has_graph(model):
        g, _ = live_graph(model)
        g.meta.update(source="<live model>", format="live", keras_runtime=keras.__version__)
        return g
    result = trace(model)
    if result.error is not None:
        raise TraceFailed(result)
    return result.graph


def read_loaded(path: str, walk: Callable[[Any], ModelGraph], unsafe: bool = False, allow_code: bool = False,
                inputs: tuple[str, ...] = ()) -> ModelGraph:
    """``--load``: the file loaded by Keras 3 (or, for a legacy Keras 2 file Keras 3 refuses, by
    tf-keras) as a ModelGraph that says what the file says: its ``keras_version`` and format
    (the "Saved with" line), and a note when tf-keras loaded it.

    ``walk`` turns a Keras 3 model into its graph (the CLI's, which defers trace failures)."""
    loaded = load_file(path, unsafe=unsafe, allow_code=allow_code, legacy=True)
    if loaded.tf_keras is None:
        g = walk(loaded.model)
    else:
        if inputs:
            raise InspectorError("--input is only for models without a layer graph (subclassed models); "
                                 "this one has its own inputs", path)
        g = tf_keras_graph(loaded.model, loaded.static)
        note = (f"loaded with tf-keras {loaded.tf_keras} (Keras 3 could not load this legacy file: "
                f"{loaded.reason})")
        g.meta.update(loaded_with=f"tf-keras {loaded.tf_keras}", notes=[note])
    if loaded.static is not None:
        facts = {k: loaded.static.meta[k] for k in ("keras_version", "backend", "format")
                 if loaded.static.meta.get(k)}
        g.meta.update(facts, source=path)
    return g


def tf_keras_graph(model: Any, static: ModelGraph) -> ModelGraph:
    """A tf-keras (Keras 2) model's graph: the file's static graph, filled in from the live model.

    Why not walk tf-keras's node graph as :mod:`inspector.readers.live.walk` walks Keras 3's:
    the walk rests on Keras 3 internals (``_operations``, ``serialize_keras_object``, the
    3-tuple ``_keras_history``) that tf-keras spells differently, so a second walk would be a
    second reader to keep equal to the first. The static read of the same file already has
    the structure (node ids, edges, configs, nested models) exactly as every other path shows
    it; what it may lack (shapes of layers it does not know, e.g. ``LocallyConnected1D``)
    the loaded model knows. So each node takes its output shapes and dtypes from its tf-keras
    node (the k-th call of the layer inside this model), each layer its weights from the
    layer object; edge shapes and MACs follow.
    """
    from inspector.readers.live.nodes import costs

    g = static
    g.meta = {k: v for k, v in g.meta.items() if k not in ("notes", "hint")}   # static-only advice
    layers = {layer.name: layer for layer in model.layers}
    for i, name in enumerate(g.inputs):   # a Sequential's synthesised input has no layer of its name
        if name not in layers and i < len(model.inputs):
            layers[name] = model.inputs[i]
    for nid, a in g.nodes():
        obj = layers.get(a["name"])
        if obj is None:
            continue
        outs = _tf_keras_outputs(model, obj, a.get("call_index", 0))
        if outs is not None:
            a["output_shapes"] = [_shape(t.shape) for t in outs]
            a["output_dtypes"] = [t.dtype.name for t in outs]
        sub = g.subgraphs.get(a.get("subgraph") or "")
        if a.get("call_index", 0) == 0 and sub is not None and a["kind"] == "model":
            tf_keras_graph(obj, sub)
            t = sub.totals()
            a["params_trainable"], a["params_non_trainable"] = t["params_trainable"], t["params_non_trainable"]
        elif a.get("call_index", 0) == 0 and a["kind"] == "layer":
            _tf_keras_weights(a, obj)
    for nid, a in g.nodes():
        edges = g.in_edges(nid)
        for u, _, d in edges:
            shapes = g.node(u).get("output_shapes") or []
            t = d.get("tensor_index") or 0
            if t < len(shapes) and shapes[t] is not None:
                d["shape"] = shapes[t]
        if edges:
            a["input_shapes"] = [d.get("shape") for _, _, d in edges]
    costs(g)
    return g


def _tf_keras_outputs(model: Any, obj: Any, k: int) -> list | None:
    """Output tensors of the k-th call of a tf-keras layer inside ``model`` (a model input: itself)."""
    import tensorflow as tf

    if not hasattr(obj, "_inbound_nodes"):
        return [obj]
    network = getattr(model, "_network_nodes", None)
    mine = [n for i, n in enumerate(obj._inbound_nodes)
            if network is None or f"{obj.name}_ib-{i}" in network]
    return tf.nest.flatten(mine[k].outputs) if k < len(mine) else None


def _tf_keras_weights(a: dict, layer: Any) -> None:
    """A layer's weights as the readers list them (``lc/kernel``), and its parameter counts."""
    from inspector.layers.weight_layout import numel

    trainable = {id(w) for w in layer.trainable_weights}
    a["weights"] = [{"name": str(w.name).rsplit(":", 1)[0], "shape": [int(d) for d in w.shape],
                     "dtype": w.dtype.name, "trainable": id(w) in trainable} for w in layer.weights]
    a["params_trainable"] = sum(numel(w["shape"]) for w in a["weights"] if w["trainable"])
    a["params_non_trainable"] = sum(numel(w["shape"]) for w in a["weights"] if not w["trainable"])


def _shape(shape: Any) -> tuple | None:
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):   # unknown rank
        return None
