"""The live reader: an in-memory Keras 3 model → :class:`ModelGraph`.

Walks Keras's own node graph (``Functional._operations`` and each operation's
``_inbound_nodes``, filtered to the nodes that belong to the model), so it
produces the same node ids, edges and attributes as the static reader
(:mod:`inspector.readers.config_graph`) gives for the saved file: node configs come
from ``serialize_keras_object`` (exactly what ``model.save`` writes), shapes
from the ``KerasTensor``s, parameters from the layer objects themselves.

Every loop is iterative; only model nesting recurses, capped like the static
reader's. Models without a layer graph (subclassed models) go to the tracer.
Keras is imported lazily: ``import inspector.readers.live.walk`` costs nothing.
"""
from __future__ import annotations

from typing import Any, Callable

from inspector.errors import InspectorError
from inspector.graph import ModelGraph, node_id
from inspector.layers.weight_layout import numel
from inspector.readers.config_graph import MAX_NESTING
from inspector.readers.inbound import stub_tensors
from inspector.readers.live.nodes import (
    _attach,
    _call_index,
    _has_tensor,
    _shape,
    _struct_list,
    _sublayers,
    base_attrs,
    call_tensors,
    costs,
    is_custom,
    layer_weights,
    node_kind,
    saved_args,
    serialize,
    tensor_ref,
)

#: Keras layers built from other layers whose inside is worth showing too (the projections,
#: softmax and dropout of an attention layer), traced like custom layers.
COMPOSITE = {"MultiHeadAttention", "GroupedQueryAttention"}

#: ``expand(layer, graph, node_id, keras_node) -> ModelGraph | None``: the inside of a custom layer
#: (the tracer passes its own; the walk itself never traces). ``keras_node`` is the Keras node of
#: that call when the walk has one (None otherwise).
Expand = Callable[[Any, ModelGraph, str, Any], "ModelGraph | None"]


def functional_graph(model: Any, depth: int = 0, trainable: bool = True,
                     expand: Expand | None = None) -> tuple[ModelGraph, dict[int, str]]:
    """Walk a Functional/Sequential model; also returns ``id(keras Node) -> node id``.

    ``expand`` gives custom layers their inside (nested graph); None leaves them opaque.
    """
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
    finish(g, objects, depth, trainable, expand, {nid: node for _, node, nid in calls})
    return g, ids


def finish(g: ModelGraph, objects: dict[str, Any], depth: int, trainable: bool,
           expand: Expand | None = None, nodes: dict[str, Any] | None = None) -> None:
    """Parameters (first call of each layer), nested graphs, MACs and activation bytes."""
    opaque: list[str] = []
    owner = _owners(objects)
    for nid, a in list(g.nx.nodes(data=True)):
        if a.get("call_index", 0) != 0:
            continue
        obj = objects.get(nid)
        if obj is not None and id(obj) in owner and a["kind"] != "input":
            # a layer of a nested model called again out here (a task's LM head reusing the
            # backbone's embedding): its weights are counted once, inside, as count_params() does
            a["params_trainable"], a["params_non_trainable"], a["weights"] = 0, 0, []
            a["params_in"] = owner[id(obj)]
        elif a["kind"] == "model":
            sub, _ = functional_graph(obj, depth + 1, a["trainable"], expand)
            _attach(g, nid, a, sub)
        elif a["kind"] in ("op", "input") or obj is None:
            a["params_trainable"], a["params_non_trainable"], a["weights"] = 0, 0, []
        else:
            ws = layer_weights(obj)
            a["weights"] = ws
            a["params_trainable"] = sum(numel(w["shape"]) for w in ws if w["trainable"])
            a["params_non_trainable"] = sum(numel(w["shape"]) for w in ws if not w["trainable"])
            composite = a.get("class_name") in COMPOSITE
            if expand is not None and a["kind"] == "layer" and (is_custom(obj) or composite) and depth < MAX_NESTING and _sublayers(obj) \
                    and a.get("input_shapes") is not None:
                sub = expand(obj, g, nid, (nodes or {}).get(nid))
                if sub is not None:
                    _attach(g, nid, a, sub, params=False)
                elif not composite:
                    opaque.append(nid)
    if opaque and depth == 0:
        g.meta.setdefault("notes", []).append(
            f"the inside of {_few(opaque)} could not be traced (its call needs concrete shapes or values: "
            "try --input NAME=SHAPE for the model's open dimensions); shown as one box")
    costs(g)


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _owners(objects: dict[str, Any]) -> dict[int, str]:
    """id(layer) -> the node whose model or custom layer holds it as a sub-layer."""
    out: dict[int, str] = {}
    for nid, obj in objects.items():
        for sub in _sublayers(obj, recursive=True):
            out.setdefault(id(sub), nid)
    return out
