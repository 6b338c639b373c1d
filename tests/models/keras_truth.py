"""What Keras itself says about a model: layer calls, connections, shapes, params.

Tests compare the inspector's graph against these facts, which come from the
live Keras objects (node objects, ``layer.output``, ``count_params()``), never
from our own reader.
"""
from __future__ import annotations

from collections import Counter
from typing import Any


def node_name(layer_name: str, k: int, n: int) -> str:
    return layer_name if n <= 1 else f"{layer_name}:{k}"


def keras3_calls(model: Any) -> dict[str, Any]:
    """For a Keras 3 Functional/Sequential model: every operation call inside it.

    Returns {"calls": {node_id: {"op", "is_layer", "outputs": [shapes]}},
             "edges": Counter((src_id, dst_id, tensor_index))}.
    """
    import keras

    fn = model
    if isinstance(model, keras.Sequential) and getattr(model, "_functional", None) is not None:
        fn = model._functional
    nodes = [n for depth in sorted(fn._nodes_by_depth) for n in fn._nodes_by_depth[depth]]
    node_set = set(id(n) for n in nodes)
    per_op: dict[int, list] = {}
    for op in fn._operations:
        per_op[id(op)] = [n for n in op._inbound_nodes if id(n) in node_set]
    calls, edges = {}, Counter()

    def nid(node):
        op = node.operation
        mine = per_op[id(op)]
        return node_name(op.name, [id(x) for x in mine].index(id(node)), len(mine))

    for node in nodes:
        op = node.operation
        calls[nid(node)] = {
            "op": op,
            "is_layer": isinstance(op, keras.layers.Layer),
            "is_input": isinstance(op, keras.layers.InputLayer),
            "outputs": [tuple(t.shape) for t in node.output_tensors],
        }
        for t in node.input_tensors:
            src_op, ni, ti = t._keras_history
            src_node = src_op._inbound_nodes[ni]
            edges[(nid(src_node), nid(node), ti)] += 1

    def ref(t):
        op, ni, ti = t._keras_history
        return nid(op._inbound_nodes[ni]), ti

    return {"calls": calls, "edges": edges, "inputs": [ref(t)[0] for t in fn.inputs],
            "outputs": [ref(t) for t in fn.outputs]}


def our_edges(g) -> Counter:
    return Counter((u, v, d.get("tensor_index") or 0) for u, v, d in g.nx.edges(data=True))


def _custom(a: dict) -> bool:
    return not str(a.get("module") or "keras").startswith("keras")


def assert_matches_keras3(g, model) -> None:
    """The whole acceptance check for a Keras 3 graph model."""
    truth = keras3_calls(model)
    calls = truth["calls"]
    ours = {n for n, a in g.nx.nodes(data=True)}
    # Sequential: Keras's functional twin has the InputLayer our reader marks synthetic
    assert ours == set(calls), (sorted(ours ^ set(calls)))
    assert our_edges(g) == truth["edges"]
    for nid, c in calls.items():
        a = g.node(nid)
        got = [tuple(s) if s is not None else None for s in a["output_shapes"]]
        if _custom(a) and all(s is None for s in got):
            # a custom class's output shape is knowable statically only from a consumer;
            # when nothing consumes it we say "unknown", never a wrong shape
            assert len(got) <= max(1, len(c["outputs"]))
        else:
            assert got == c["outputs"], nid
        assert a["kind"] == ("input" if c["is_input"] else ("op" if not c["is_layer"] else a["kind"]))
        if c["is_layer"] and a["call_index"] == 0 and not c["is_input"]:
            layer = c["op"]
            total = (a["params_trainable"] or 0) + (a["params_non_trainable"] or 0)
            assert total == layer.count_params(), nid
            assert a["params_trainable"] == sum(int(w.numpy().size) for w in layer.trainable_weights), nid
    layer_names = [layer.name for layer in model.layers]
    assert g.layers == layer_names
    assert g.totals()["params_total"] == model.count_params()
    assert g.inputs == truth["inputs"]
    assert g.outputs == truth["outputs"]


def tf_keras_truth(model: Any) -> dict[str, Any]:
    """Calls, shapes, edges, inputs and outputs straight from a tf-keras (Keras 2) model's objects."""
    calls, edges = {}, Counter()
    node_ids = {}
    in_model = set(model._network_nodes)
    all_layers = [layer for layer in getattr(model, "_input_layers", []) if layer not in model.layers] + model.layers
    for layer in all_layers:
        mine = [n for i, n in enumerate(layer._inbound_nodes) if f"{layer.name}_ib-{i}" in in_model]
        for k, node in enumerate(mine):
            node_ids[id(node)] = layer.name if len(mine) <= 1 else f"{layer.name}:{k}"
    for layer in all_layers:
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) not in node_ids:
                continue
            nid = node_ids[id(node)]
            outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
            calls[nid] = (layer, [tuple(t.shape) for t in outs])
            for inbound_layer, ni, ti, _ in node.iterate_inbound():
                edges[(node_ids[id(inbound_layer._inbound_nodes[ni])], nid, ti)] += 1

    def ref(t):
        layer, ni, ti = t._keras_history
        return node_ids[id(layer._inbound_nodes[ni])], ti

    return {"calls": calls, "edges": edges, "inputs": [ref(t)[0] for t in model.inputs],
            "outputs": [ref(t) for t in model.outputs]}


def assert_matches_tf_keras(g, model) -> None:
    """The acceptance check for a tf-keras graph model."""
    truth = tf_keras_truth(model)
    calls = truth["calls"]
    assert {n for n, a in g.nx.nodes(data=True) if not (a.get("synthetic") and n not in calls)} == set(calls)
    assert Counter({k: v for k, v in our_edges(g).items() if k[0] in calls}) == truth["edges"]
    for nid, (layer, outs) in calls.items():
        a = g.node(nid)
        assert [tuple(s) if s is not None else None for s in a["output_shapes"]] == outs, nid
        if a["call_index"] == 0:
            assert (a["params_trainable"] or 0) + (a["params_non_trainable"] or 0) == layer.count_params(), nid
            assert a["params_trainable"] == sum(int(w.shape.num_elements()) for w in layer.trainable_weights)
    assert g.totals()["params_total"] == model.count_params()
    if calls.keys() >= set(truth["inputs"]):  # a Sequential's inputs may be our synthetic InputLayer
        assert g.inputs == truth["inputs"]
    assert g.outputs == truth["outputs"]


def build_and_save(backend: Any, build: Any, path: str) -> Any:
    """``build(backend)`` in a fresh Keras (or tf-keras) session, saved to ``path``; the live model."""
    backend.backend.clear_session()
    model = build(backend)
    model.save(path)
    return model


def calls_per_layer(model: Any) -> Counter:
    """How many times each layer is called *in this model's graph* (other graphs built from the
    same layer objects, e.g. by extraction tests, add inbound nodes that do not count)."""
    return Counter(c["op"].name for c in keras3_calls(model)["calls"].values())


def save_units_pair(keras: Any, tmp_path: Any) -> tuple[Any, str, Any, str]:
    """Two saved models differing only in the ``units`` of their output Dense ``out`` (2 vs 5):
    (model_a, path_a, model_b, path_b)."""
    from keras import layers

    def build(units: int) -> Any:
        keras.backend.clear_session()
        i = keras.Input((4,), name="x")
        return keras.Model(i, layers.Dense(units, name="out")(layers.Dense(8, name="h")(i)))

    m1, m2 = build(2), build(5)
    p1, p2 = str(tmp_path / "a.keras"), str(tmp_path / "b.keras")
    m1.save(p1)
    m2.save(p2)
    return m1, p1, m2, p2
