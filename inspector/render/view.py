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

from ..errors import InspectorError
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
    """Apply layer range, nested expansion, highlight and diff (then collapse) to ``g``."""
    order = g.order()
    selected = _select_range(g, order, opts.layer_range)
    view = View(name=g.name, class_name=g.class_name, nodes={}, edges=[], clusters={}, meta=dict(g.meta),
                totals=g.totals())
    if len(selected) < len(order):
        view.notes.append(f"layers {selected[0]} … {selected[-1]} ({len(selected)} of {len(order)} layer calls)")
    depth = (opts.depth if opts.depth is not None else 1 << 30) if opts.expand_nested else 0
    hl = _highlight_set(g, opts.highlight)
    _add_graph(view, g, "", None, depth, selected, hl)
    if opts.diff is not None:
        from .diffstyle import annotate, other_graph

        other, against = other_graph(opts.diff)
        annotate(view, g, other, against, partial=len(selected) < len(order))
    if opts.collapse:
        from .collapse import collapse

        collapse(view, opts.collapse_min)
    return view


def _add_graph(view: View, g: ModelGraph, prefix: str, cluster: str | None, depth: int,
               selected: list[str] | None, hl: set[str] | None) -> tuple[dict, dict]:
    """Add ``g``'s nodes and edges; return (entry, exit) maps of the nodes expanded as clusters.

    entry[nid] = display ids of the nested model's inputs (an edge into the model lands on
    its input of the same position); exit[nid] = its outputs as (display id, tensor index).
    """
    outputs = {o for o, _ in g.outputs}
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[tuple[str, int]]] = {}
    ids = selected if selected is not None else g.order()
    keep = set(ids)
    store = _store(g)
    for nid in ids:
        a = store.nodes[nid]
        did = prefix + nid
        sub = g.subgraphs.get(a.get("subgraph")) if a.get("subgraph") is not None else None
        lit = None if hl is None else (nid in hl)
        if sub is not None and depth > 0 and len(sub) > 0 and sub.inputs:
            view.clusters[did] = Cluster(did, _cluster_label(a), cluster, a)
            e_in, e_out = _add_graph(view, sub, did + "/", did, depth - 1, None,
                                     None if hl is None else (set(_store(sub).nodes) if lit else set()))
            entry[did] = [did + "/" + i for i in sub.inputs]
            exit_[did] = [(_through(did + "/" + o, t, e_out)) for o, t in sub.outputs]
            # an input of the nested model that is itself expanded is impossible (inputs are InputLayers)
            continue
        view.nodes[did] = VNode(did, a, cluster, is_output=(prefix == "" and nid in outputs), highlighted=lit)
    for u, v, d in store.edges(data=True):
        if u not in keep or v not in keep:
            continue
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


def _resolve(g: ModelGraph, ref: str, what: str) -> str:
    try:
        return g.resolve(ref)
    except KeyError as e:
        raise InspectorError(f"{what}: {e.args[0]}") from None


def _highlight_set(g: ModelGraph, refs: tuple[str, ...]) -> set[str] | None:
    """The highlighted layer calls and everything they depend on; None when nothing is highlighted."""
    if not refs:
        return None
    lit: set[str] = set()
    for ref in refs:
        nid = _resolve(g, ref, "--highlight")
        lit.add(nid)
        lit |= g.ancestors(nid)
    return lit


def _select_range(g: ModelGraph, order: list[str], layer_range: Any) -> list[str]:
    """Node ids from FIRST's first call to LAST's last call, inclusive, in model order."""
    if not layer_range:
        return order
    if isinstance(layer_range, str):
        first, last = _split_range(g, layer_range)
    else:
        first, last = layer_range
    pos = {nid: i for i, nid in enumerate(order)}

    def calls(ref: str) -> list[str]:  # a range may name a shared layer: all its calls
        if ref in g:
            return [ref]
        return g.calls(ref) or [_resolve(g, ref, "--layer-range")]

    lo = min(pos[n] for n in calls(first)) if first else 0
    hi = max(pos[n] for n in calls(last)) if last else len(order) - 1
    if lo > hi:
        raise InspectorError(f"--layer-range: {first!r} comes after {last!r} in the model")
    return order[lo:hi + 1]


def _split_range(g: ModelGraph, text: str) -> tuple[str | None, str | None]:
    """Split ``FIRST:LAST`` at the ':' that leaves a known layer (or nothing) on both sides."""
    known = lambda ref: ref == "" or ref in g or bool(g.calls(ref))  # noqa: E731
    splits = [i for i, c in enumerate(text) if c == ":"]
    for i in splits:
        a, b = text[:i], text[i + 1:]
        if known(a) and known(b):
            return a or None, b or None
    i = splits[len(splits) // 2]
    a, b = text[:i], text[i + 1:]
    for ref in (a, b):  # report the side that does not resolve, with suggestions
        if ref and not known(ref):
            _resolve(g, ref, "--layer-range")
    raise InspectorError(f"--layer-range: cannot split {text!r} into FIRST:LAST")
