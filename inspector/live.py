"""The live reader: an in-memory Keras 3 model → :class:`ModelGraph`.

Walks Keras's own node graph (``Functional._operations`` and each operation's
``_inbound_nodes``, filtered to the nodes that belong to the model), so it
produces the same node ids, edges and attributes as the static reader
(:mod:`inspector.config_graph`) gives for the saved file: node configs come
from ``serialize_keras_object`` (exactly what ``model.save`` writes), shapes
from the ``KerasTensor``s, parameters from the layer objects themselves.

Every loop is iterative; only model nesting recurses, capped like the static
reader's. Models without a layer graph (subclassed models) go to the tracer.
Keras is imported lazily: ``import inspector.live`` costs nothing.
"""
from __future__ import annotations

import re
from typing import Any

from .config_graph import MAX_NESTING, _activation, is_model_config
from .inbound import stub_tensors
from .costs import activation_bytes, count_macs
from .errors import InspectorError
from .graph import ModelGraph, node_id
from .weights import numel


def read_model(model: Any) -> ModelGraph:
    """Graph of a live ``keras.Model`` (or layer): walked when it has a graph, traced otherwise.

    Raises :class:`inspector.trace.TraceFailed` (an ``InspectorError`` carrying
    the partial graph as ``.result``) when a subclassed model's ``call`` fails.
    """
    from .loading import import_keras

    keras = import_keras()
    if not isinstance(model, keras.layers.Layer):
        if type(model).__module__.startswith("tf_keras"):
            raise InspectorError("tf-keras (Keras 2) models are read from their saved file: "
                                 "model.save('m.h5'), then inspector.read('m.h5')")
        raise InspectorError(f"cannot read a {type(model).__name__}: pass a keras.Model or a path "
                             "to a .keras or .h5 file")
    if has_graph(model):
        g, _ = functional_graph(model)
        g.meta.update(source="<live model>", format="live", keras_runtime=keras.__version__)
        return g
    from .trace import TraceFailed, trace

    result = trace(model)
    if result.error is not None:
        raise TraceFailed(result)
    return result.graph


def has_graph(model: Any) -> bool:
    """True for Functional models (incl. subclasses built from inputs/outputs) and built Sequentials."""
    from keras.src.models.functional import Functional
    from keras.src.models.sequential import Sequential

    if isinstance(model, Sequential):
        return model._functional is not None
    return isinstance(model, Functional)


def functional_graph(model: Any, depth: int = 0, trainable: bool = True) -> tuple[ModelGraph, dict[int, str]]:
    """Walk a Functional/Sequential model; also returns ``id(keras Node) -> node id``."""
    from keras.src.models.sequential import Sequential

    if depth > MAX_NESTING:
        raise InspectorError(f"models nested more than {MAX_NESTING} deep")
    sequential = isinstance(model, Sequential)
    fn = model._functional if sequential else model
    entry = serialize(model)
    g = ModelGraph(name=model.name, class_name=str(entry.get("class_name") or type(model).__name__))
    trainable = trainable and model.trainable
    in_model = {id(n) for nodes in fn._nodes_by_depth.values() for n in nodes}
    ids: dict[int, str] = {}
    calls: list[tuple[Any, Any, str]] = []  # (operation, keras node, our id) in model order
    for op in fn._operations:
        mine = [n for n in op._inbound_nodes if id(n) in in_model]
        for k, node in enumerate(mine):
            nid = node_id(op.name, k, len(mine))
            ids[id(node)] = nid
            calls.append((op, node, nid))

    entries: dict[int, dict] = {}
    counts: dict[int, int] = {}
    for op, _, _ in calls:
        counts[id(op)] = counts.get(id(op), 0) + 1
    for op, node, nid in calls:
        e = entries.setdefault(id(op), serialize(op))
        kind = node_kind(op, e)
        n = counts[id(op)]
        attrs = base_attrs(op, e, kind, trainable)
        attrs.update(call_index=_call_index(nid), num_calls=n,
                     output_shapes=[_shape(t.shape) for t in node.output_tensors],
                     output_dtypes=[str(t.dtype) for t in node.output_tensors])
        if kind != "input" and not sequential:
            kwargs = {k: v for k, v in node.arguments.kwargs.items() if not _has_tensor(v)}
            args, constant = stub_tensors(saved_args(node))
            if constant:  # as the static reader gives them (shape rules read them)
                kwargs["__args__"] = args
            attrs["call_kwargs"] = kwargs or None
        if sequential and kind == "input":
            attrs["synthetic"] = True
        g.add_node(nid, **attrs)

    for op, node, nid in calls:
        for j, t in enumerate(call_tensors(node.arguments.args, node.arguments.kwargs)):
            src_op, ni, ti = t._keras_history
            g.add_edge(ids[id(src_op._inbound_nodes[ni])], nid, arg_index=j, tensor_index=ti,
                       shape=_shape(t.shape), dtype=str(t.dtype))
        g.nx.nodes[nid]["input_shapes"] = [d["shape"] for _, _, d in
                                           sorted(g.nx.in_edges(nid, data=True), key=lambda x: x[2]["arg_index"])]

    g.inputs = [tensor_ref(t, ids)[0] for t in _struct_list(fn._inputs_struct)]
    g.outputs = [tensor_ref(t, ids) for t in _struct_list(fn._outputs_struct)]
    objects = {nid: op for op, _, nid in calls}
    finish(g, objects, depth, trainable)
    return g, ids


def saved_args(node: Any) -> Any:
    """A node's positional args as ``model.save`` writes them (JSON: tuples become lists)."""
    import json

    from keras.src.models.functional import serialize_node

    try:
        saved = serialize_node(node) or {}
        return json.loads(json.dumps(saved.get("args") or []))
    except Exception:  # an argument Keras cannot save: no constants to offer the shape rules
        return []


def tensor_ref(t: Any, ids: dict[int, str]) -> tuple[str, int]:
    """(node id, tensor index) of a KerasTensor in a graph walked by :func:`functional_graph`."""
    op, ni, ti = t._keras_history
    return ids[id(op._inbound_nodes[ni])], ti


def _call_index(nid: str) -> int:
    base, sep, idx = nid.rpartition(":")
    return int(idx) if sep and idx.isdigit() else 0


# --------------------------------------------------------------------------- node attributes
def serialize(obj: Any) -> dict:
    """What ``model.save`` writes for one operation; a best-effort stand-in if it cannot be serialised."""
    import keras

    try:
        e = keras.saving.serialize_keras_object(obj)
        if isinstance(e, dict) and isinstance(e.get("config"), dict):
            return e
    except Exception:  # custom classes without get_config: still a node, just less config
        pass
    cls = type(obj)
    try:
        registered = keras.saving.get_registered_name(cls)
    except Exception:
        registered = None
    return {"class_name": cls.__name__, "module": cls.__module__,
            "registered_name": registered if registered != cls.__name__ else None,
            "config": {"name": getattr(obj, "name", cls.__name__), "trainable": getattr(obj, "trainable", True)}}


def node_kind(op: Any, entry: dict) -> str:
    import keras

    if isinstance(op, keras.layers.InputLayer):
        return "input"
    if not isinstance(op, keras.layers.Layer):
        return "op"
    if is_model_config(entry) and has_graph(op):
        return "model"
    return "layer"


def base_attrs(op: Any, entry: dict, kind: str, trainable: bool) -> dict[str, Any]:
    """Attributes every node carries, as the static reader fills them from a config entry."""
    from .config_audit import _is_known, code_flags

    cfg = entry.get("config") or {}
    extra: dict[str, Any] = {}
    if kind != "input":  # the static reader's code/custom flags
        extra.update(code_flags(entry))
        if not _is_known(entry):
            extra["custom"] = True
    return dict(name=op.name, class_name=str(entry.get("class_name") or type(op).__name__),
                module=entry.get("module"), registered_name=entry.get("registered_name"), kind=kind,
                config=cfg, activation=_activation(cfg),
                trainable=trainable and cfg.get("trainable", True) is not False,
                input_shapes=[], output_shapes=[], output_dtypes=[], **extra)


def layer_weights(layer: Any) -> list[dict[str, Any]]:
    """Weights of a layer object in Keras's order, named relative to the layer (``kernel``, ``dense/bias``)."""
    trainable_ids = {id(w) for w in getattr(layer, "trainable_weights", [])}
    prefix = (getattr(layer, "path", None) or layer.name) + "/"
    out = []
    for w in getattr(layer, "weights", []):
        path = str(getattr(w, "path", None) or w.name)
        out.append({"name": path[len(prefix):] if path.startswith(prefix) else path,
                    "shape": [int(d) for d in w.shape], "dtype": str(w.dtype), "trainable": id(w) in trainable_ids})
    return out


def finish(g: ModelGraph, objects: dict[str, Any], depth: int, trainable: bool) -> None:
    """Parameters (first call of each layer), nested graphs, MACs and activation bytes."""
    for nid, a in list(g.nx.nodes(data=True)):
        if a.get("call_index", 0) != 0:
            continue
        obj = objects.get(nid)
        if a["kind"] == "model":
            sub, _ = functional_graph(obj, depth + 1, a["trainable"])
            _attach(g, nid, a, sub)
        elif a["kind"] in ("op", "input") or obj is None:
            a["params_trainable"], a["params_non_trainable"], a["weights"] = 0, 0, []
        else:
            ws = layer_weights(obj)
            a["weights"] = ws
            a["params_trainable"] = sum(numel(w["shape"]) for w in ws if w["trainable"])
            a["params_non_trainable"] = sum(numel(w["shape"]) for w in ws if not w["trainable"])
            if is_custom(a) and depth < MAX_NESTING and _sublayers(obj) and a.get("input_shapes") is not None:
                sub = _trace_custom(obj, g, nid)
                if sub is not None:
                    _attach(g, nid, a, sub, params=False)
    costs(g)


def costs(g: ModelGraph) -> None:
    """MACs and activation bytes of every node (nested graphs' totals for models)."""
    for nid, a in g.nx.nodes(data=True):
        first = g.nx.nodes[g.calls(a["name"])[0]] if a.get("call_index") else a
        wshapes = [tuple(w["shape"]) for w in (first.get("weights") or [])]
        if a["kind"] == "input":
            a["macs"] = 0
        elif a.get("failed"):
            a["macs"] = None
        else:
            a["macs"] = count_macs(a["class_name"], a["config"], a["input_shapes"], a["output_shapes"], wshapes)
            sub = g.subgraphs.get(a.get("subgraph") or "")
            if a["macs"] is None and sub is not None:
                t = sub.totals()
                a["macs"] = t["macs"] if t["macs_known"] else None
        a["activation_bytes"] = activation_bytes(a["output_shapes"], a["output_dtypes"])


def _attach(g: ModelGraph, nid: str, a: dict, sub: ModelGraph, params: bool = True) -> None:
    g.subgraphs[nid] = sub
    for other in g.calls(a["name"]):
        g.nx.nodes[other]["subgraph"] = nid
    if params:
        t = sub.totals()
        a["params_trainable"], a["params_non_trainable"] = t["params_trainable"], t["params_non_trainable"]
        a["weights"] = [w for _, sa in sub.nodes() for w in (sa.get("weights") or [])]


def is_custom(a: dict) -> bool:
    """A user's own layer class (its code is the only description of what it does)."""
    return not str(a.get("module") or "keras").startswith("keras") and a.get("kind") == "layer"


def _sublayers(layer: Any) -> list:
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except Exception:
        return []


def _trace_custom(layer: Any, g: ModelGraph, nid: str) -> ModelGraph | None:
    """Traced inside of a custom layer/model used as a layer, so `--expand-nested` can show it."""
    from .specs import InputSpec
    from .trace import trace

    shapes = g.nx.nodes[nid]["input_shapes"]
    dtypes = [d.get("dtype") or "float32" for _, _, d in
              sorted(g.nx.in_edges(nid, data=True), key=lambda x: x[2]["arg_index"])]
    if len(shapes) != 1 or shapes[0] is None or len(shapes[0]) < 1:
        return None  # multi-tensor calls of custom layers: the call structure is the user's, not ours
    spec = InputSpec(f"{layer.name}_input", tuple(shapes[0][1:]), dtypes[0])
    try:
        result = trace(layer, [spec], _fallback=False)
    except Exception:  # a custom layer we cannot trace is still a node; only its inside stays hidden
        return None
    return result.graph if result.error is None else None


# --------------------------------------------------------------------------- failed calls (tracing)
def add_failed_call(g: ModelGraph, layer: Any, refs: list) -> str:
    """Add (or mark, for eager graphs that already hold it) the failing call; renumber earlier calls."""
    existing = g.calls(layer.name)
    if existing and g.nx.nodes[existing[-1]].get("output_shapes") == [] and not refs:
        nid = existing[-1]
    else:
        n = len(existing) + 1
        mapping = {old: node_id(layer.name, i, n) for i, old in enumerate(existing)}
        if any(k != v for k, v in mapping.items()):
            relabel(g, mapping)
            g.inputs = [mapping.get(i, i) for i in g.inputs]
            g.subgraphs = {mapping.get(k, k): v for k, v in g.subgraphs.items()}
            for _, a in g.nx.nodes(data=True):
                if a.get("subgraph") in mapping:
                    a["subgraph"] = mapping[a["subgraph"]]
        for i, old in enumerate(existing):
            g.nx.nodes[mapping[old]].update(call_index=i, num_calls=n)
        nid = node_id(layer.name, n - 1, n)
        e = serialize(layer)
        g.add_node(nid, **base_attrs(layer, e, node_kind(layer, e), True))
        g.nx.nodes[nid].update(call_index=n - 1, num_calls=n)
        for j, (src, ti, shape, dtype) in enumerate(refs):
            g.add_edge(mapping.get(src, src), nid, arg_index=j, tensor_index=ti, shape=_shape(shape), dtype=str(dtype))
        g.nx.nodes[nid]["input_shapes"] = [_shape(s) for _, _, s, _ in refs]
        if n == 1:
            ws = layer_weights(layer)
            g.nx.nodes[nid].update(weights=ws, params_trainable=sum(numel(w["shape"]) for w in ws if w["trainable"]),
                                   params_non_trainable=sum(numel(w["shape"]) for w in ws if not w["trainable"]))
    g.nx.nodes[nid].update(failed=True, macs=None, activation_bytes=None)
    return nid


def relabel(g: ModelGraph, mapping: dict[str, str]) -> None:
    """Rename nodes keeping the model order (rebuilt through ModelGraph's own API)."""
    fresh = ModelGraph()
    for n, a in g.nx.nodes(data=True):
        fresh.add_node(mapping.get(n, n), **a)
    for u, v, d in g.nx.edges(data=True):
        fresh.add_edge(mapping.get(u, u), mapping.get(v, v), **d)
    if "store" in vars(g):
        g.store = fresh.store
    else:
        g.nx = fresh.nx


# --------------------------------------------------------------------------- helpers
def call_tensors(args: Any, kwargs: Any) -> list:
    """Tensor arguments of a call in the order the static reader numbers them (args, then kwargs)."""
    from keras import KerasTensor

    out: list = []
    stack: list[Any] = [kwargs or {}, args or ()]
    while stack:
        v = stack.pop()
        if isinstance(v, KerasTensor):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
    return out


def _has_tensor(v: Any) -> bool:
    return bool(call_tensors((v,), None))


def _struct_list(struct: Any) -> list:
    """Model inputs/outputs as saved: a dict's values in order, a list flattened, one tensor alone."""
    out: list = []
    stack = [struct]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        elif v is not None:
            out.append(v)
    return out


def _shape(shape: Any) -> tuple | None:
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)




def tensors(x: Any) -> list:
    """Every tensor-like leaf (KerasTensor, eager tensor, array) of a nested call structure."""
    return [t for t in _struct_list(x) if hasattr(t, "shape") and hasattr(t, "dtype") and not isinstance(t, (int, float))]


def dtype_name(t: Any) -> str:
    from keras import backend

    try:
        return backend.standardize_dtype(t.dtype)
    except Exception:
        return str(t.dtype)


def snake(name: str) -> str:
    """``AddV2`` -> ``add_v2``: TensorFlow op types as node names in Keras's style."""
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def unique_name(base: str, used: set) -> str:
    name, i = base, 0
    while name in used:
        i += 1
        name = f"{base}_{i}"
    used.add(name)
    return name
