"""The *view*: the part of a ModelGraph a diagram shows, flattened for drawing.

Every output format (DOT/SVG/PNG/PDF, the HTML page, the built-in fallback
layout) draws the same :class:`View`, so the layer range, nested-model
expansion, highlight and collapse rules are applied once, here, and cannot
disagree between formats.

Display ids: a top-level node keeps its ModelGraph id; a node inside an
expanded nested model is ``outer/inner`` (Keras forbids ``/`` in layer names,
so these cannot collide); collapsed boxes get ``[prefix]`` ids from
:mod:`.collapse`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..graph import ModelGraph
from .options import RenderOptions


@dataclass
class VNode:
    id: str
    attrs: dict[str, Any]
    cluster: str | None = None
    is_output: bool = False
    #: collapsed box: display ids of the layer calls it stands for (empty for a plain node)
    members: list[str] = field(default_factory=list)
    #: collapsed box: how many repeated blocks were folded into it
    repeats: int = 1
    #: None when no --highlight is in effect; else whether this node is highlighted
    highlighted: bool | None = None
    #: None without --diff; else "same", "added", "changed" or "removed" (a ghost from OTHER)
    diff: str | None = None
    #: with --diff: what changed (the differ's ``changes`` dict), or for a collapsed box
    #: {"members": {status: [display ids]}}
    diff_info: dict[str, Any] = field(default_factory=dict)


@dataclass
class VEdge:
    src: str
    dst: str
    attrs: dict[str, Any]
    #: parallel connections merged into this edge (only after collapsing)
    count: int = 1
    #: None without --diff (or an unchanged connection); "added" or "removed" with --diff
    diff: str | None = None


@dataclass
class Cluster:
    id: str
    label: str
    parent: str | None
    attrs: dict[str, Any]
    #: with --diff: the nested model's status ("same", "added", "changed")
    diff: str | None = None
    #: display ids of the boxes an edge into the nested model lands on (its inputs, in order),
    #: and (display id, tensor index) of its outputs: where a connection to the model is drawn
    entry: list[str] = field(default_factory=list)
    exit: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class View:
    name: str
    class_name: str
    nodes: dict[str, VNode]
    edges: list[VEdge]
    clusters: dict[str, Cluster]
    meta: dict[str, Any]
    totals: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    collapsed: bool = False
    #: with --diff: {"against": OTHER's file name, counts of added/changed/removed, ...}
    diff: dict[str, Any] | None = None


def build_view(g: ModelGraph, opts: RenderOptions) -> View:
    """Apply nested expansion, highlight, layer range and diff (then collapse) to ``g``.

    Highlight and range are resolved on the expanded view (see :mod:`.refs`), so they may
    name layers inside nested models and follow edges across their boundaries."""
    from .refs import apply_highlight, trim_range

    view = View(name=g.name, class_name=g.class_name, nodes={}, edges=[], clusters={}, meta=dict(g.meta),
                totals=g.totals())
    depth = (opts.depth if opts.depth is not None else 1 << 30) if opts.expand_nested else 0
    _add_graph(view, g, "", None, depth)
    if opts.highlight:
        apply_highlight(view, g, opts.highlight)
    partial = bool(opts.layer_range) and trim_range(view, g, opts.layer_range)
    if opts.diff is not None:
        from .diffstyle import annotate, other_graph

        other, against = other_graph(opts.diff)
        annotate(view, g, other, against, partial=partial)
    if opts.collapse:
        from .collapse import collapse

        collapse(view, opts.collapse_min)
    return view


def _add_graph(view: View, g: ModelGraph, prefix: str, cluster: str | None, depth: int) -> tuple[dict, dict]:
    """Add ``g``'s nodes and edges; return (entry, exit) maps of the nodes expanded as clusters.

    entry[nid] = display ids of the nested model's inputs (an edge into the model lands on
    its input of the same position); exit[nid] = its outputs as (display id, tensor index).
    """
    outputs = {o for o, _ in g.outputs}
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[tuple[str, int]]] = {}
    ids = g.order()
    store = _store(g)
    for nid in ids:
        a = store.nodes[nid]
        did = prefix + nid
        sub = g.subgraphs.get(a.get("subgraph")) if a.get("subgraph") is not None else None
        if sub is not None and depth > 0 and len(sub) > 0 and sub.inputs:
            view.clusters[did] = Cluster(did, _cluster_label(a), cluster, a)
            _, e_out = _add_graph(view, sub, did + "/", did, depth - 1)
            entry[did] = view.clusters[did].entry = [did + "/" + i for i in sub.inputs]
            exit_[did] = view.clusters[did].exit = [_through(did + "/" + o, t, e_out) for o, t in sub.outputs]
            # an input of the nested model that is itself expanded is impossible (inputs are InputLayers)
            continue
        view.nodes[did] = VNode(did, a, cluster, is_output=(prefix == "" and nid in outputs))
    for u, v, d in store.edges(data=True):
        src, dst, ti = prefix + u, prefix + v, d.get("tensor_index") or 0
        attrs = dict(d)
        if src in exit_:
            outs = exit_[src]
            src, attrs["tensor_index"] = outs[min(ti, len(outs) - 1)] if outs else (src, ti)
        if dst in entry:
            ins = entry[dst]
            dst = ins[min(d.get("arg_index") or 0, len(ins) - 1)]
        if src in view.nodes and dst in view.nodes:
            view.edges.append(VEdge(src, dst, attrs))
    return entry, exit_


def _store(g: ModelGraph) -> Any:
    """The graph's node/edge store: networkx-compatible for nodes[...] and edges(data=True);
    the light store when the reader built one (converting to networkx costs more than drawing)."""
    store = getattr(g, "store", None)
    return store if store is not None else g.nx


def _through(did: str, t: int, exits: dict[str, list[tuple[str, int]]]) -> tuple[str, int]:
    """An output of a nested model that is itself an expanded model: follow it inwards."""
    while did in exits and exits[did]:
        did, t = exits[did][min(t, len(exits[did]) - 1)]
    return did, t


def _cluster_label(a: dict[str, Any]) -> str:
    label = f"{a.get('name')} ({a.get('class_name')})"
    if (a.get("num_calls") or 1) > 1:
        label += f" — shared ×{a['num_calls']}, call {(a.get('call_index') or 0) + 1}"
    return label
