"""A ModelGraph as the View that gets drawn: nested models expanded to a depth, then
highlight, layer range, diff marks and folding applied, in that order; then the --overlay
colours, so a folded box shows the worst of its members."""
from __future__ import annotations

import os
from typing import Any

from inspector.graph import ModelGraph
from inspector.render.collapse import collapse, collapse_auto
from inspector.render.diffstyle import annotate, other_graph
from inspector.render.options import RenderOptions
from inspector.render.overlay import apply_overlay
from inspector.render.refs import apply_highlight, trim_range
from inspector.render.view import Cluster, VEdge, View, VNode


def build_view(g: ModelGraph, opts: RenderOptions) -> View:
    """Apply nested expansion, highlight, layer range and diff (then collapse) to ``g``.

    Highlight and range are resolved on the expanded view (see :mod:`.refs`), so they may
    name layers inside nested models and follow edges across their boundaries."""
    view = View(name=g.name, class_name=g.class_name, nodes={}, edges=[], clusters={}, meta=dict(g.meta),
                totals=g.totals())
    depth = (opts.depth if opts.depth is not None else 1 << 30) if opts.expand_nested else 0
    _add_graph(view, g, "", None, depth)
    if opts.highlight:
        apply_highlight(view, g, opts.highlight)
    partial = bool(opts.layer_range) and trim_range(view, g, opts.layer_range)
    if opts.diff is not None:
        other, against = other_graph(opts.diff)
        annotate(view, g, other, against, partial=partial)
    if opts.collapse:
        collapse(view, opts.collapse_min)
    else:
        collapse_auto(view, opts)       # collapse=None: fold a view too big to read flat
    if opts.overlay is not None:
        apply_overlay(view, overlay_of(opts.overlay, g, opts.overlay_by))
    return view


def overlay_of(source: Any, g: ModelGraph, by: str | None) -> Any:
    """An Overlay for ``g``: as given, or read from a path (checked against ``g``)."""
    from inspector.numerics.overlay import Overlay, load_overlay

    if isinstance(source, Overlay):
        return source
    return load_overlay(os.fspath(source), g, by)


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
        # a nested model with inputs, or a block of a weight tree (no data flow: no inputs, no edges)
        if sub is not None and depth > 0 and len(sub) > 0 and (sub.inputs or not sub.store.number_of_edges()):
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
