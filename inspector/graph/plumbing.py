"""Hiding framework plumbing in traced graphs: the TensorFlow ops that compute shapes.

A subclassed model traced eagerly records every TF op run between its layers, and
code such as ``tf.reshape(h, [tf.shape(h)[0], -1])`` brings ``Shape``,
``StridedSlice`` and ``Pack`` nodes that say how a tensor is reshaped, not what
the model computes. Summaries and diagrams hide them by default (``--show-ops``
shows them); the reader's :class:`ModelGraph` keeps everything, and
:func:`hide_plumbing` returns a filtered copy for the consumer that asked.

Precisely, a node is hidden when it is a TensorFlow op recorded by the eager tracer
(``module == "tensorflow"``), it is not a model output, and either

* it reads only its input's shape (:data:`SHAPE_READERS`: ``Shape``, ``Size`` ...), or
* every tensor it consumes is a *shape value*: the output of a shape reader or of
  another hidden op fed only by shape values (``StridedSlice`` of a shape, ``Pack``
  of shape pieces, ``Cast``/``Mul`` of them; constants are not recorded as inputs), or
* it passes its input through unchanged (:data:`PASS_THROUGH`: ``Identity`` ...).

The graph stays connected: a visible op that consumed a hidden one is wired to the
hidden op's nearest visible producers (unless already connected to them), the edge
marked ``bridged``. Hidden ops hold no weights, so parameter totals do not change.
"""
from __future__ import annotations

from typing import Any

from inspector.graph.model_graph import ModelGraph

#: TF ops whose output depends only on their input's shape.
SHAPE_READERS = frozenset({"Shape", "ShapeN", "Size", "Rank", "BroadcastArgs", "BroadcastGradientArgs"})
#: TF ops that pass a tensor through unchanged.
PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient"})


def plumbing_nodes(g: ModelGraph) -> set[str]:
    """Node ids :func:`hide_plumbing` hides (see the module docstring); empty unless ``g`` is traced."""
    if not g.meta.get("traced"):
        return set()
    outputs = {o for o, _ in g.outputs}
    shape_values: set[str] = set()
    hidden: set[str] = set()
    for nid, a in g.nodes():   # topological: producers first
        if a.get("kind") != "op" or a.get("module") != "tensorflow" or nid in outputs:
            continue
        sources = [u for u, _, _ in g.in_edges(nid)]
        cls = a.get("class_name")
        if cls in SHAPE_READERS or (sources and all(u in shape_values for u in sources)):
            shape_values.add(nid)
            hidden.add(nid)
        elif cls in PASS_THROUGH:
            hidden.add(nid)
    return hidden


def hide_plumbing(g: ModelGraph) -> ModelGraph:
    """A copy of ``g`` without its plumbing ops, edges bridged; ``g`` itself when there is none.

    The copy's ``meta["notes"]`` says how many ops were hidden and how to see them.
    """
    hidden = plumbing_nodes(g)
    if not hidden:
        return g
    out = ModelGraph(name=g.name, class_name=g.class_name, inputs=list(g.inputs), outputs=list(g.outputs),
                     meta=dict(g.meta), subgraphs=g.subgraphs)
    for nid, a in g.nodes():
        if nid not in hidden:
            out.add_node(nid, **a)
    for nid in out.store.nodes:
        fed = {u for u, _, _ in g.in_edges(nid) if u not in hidden}
        for u, _, d in g.in_edges(nid):
            if u not in hidden:
                out.add_edge(u, nid, **d)
                continue
            for src, tensor_index in _visible_sources(g, u, hidden):
                if src not in fed:
                    fed.add(src)
                    out.add_edge(src, nid, **{**d, "tensor_index": tensor_index, "bridged": True})
    classes = sorted({str(g.node(n).get("class_name")) for n in hidden})
    out.meta["hidden_ops"] = len(hidden)
    out.meta["notes"] = [*(g.meta.get("notes") or []),
                         f"{len(hidden)} shape-computation op{'s' if len(hidden) != 1 else ''} hidden "
                         f"({', '.join(classes)}); --show-ops shows them"]
    return out


def _visible_sources(g: ModelGraph, start: str, hidden: set[str]) -> list[tuple[str, Any]]:
    """(node id, tensor index) of the visible producers a hidden node depends on, nearest first."""
    found: list[tuple[str, Any]] = []
    seen = {start}
    stack = [start]
    while stack:
        for u, _, d in g.in_edges(stack.pop()):
            if u in hidden:
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
            elif all(u != f for f, _ in found):
                found.append((u, d.get("tensor_index") or 0))
    return found
