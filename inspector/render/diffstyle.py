"""``render --diff OTHER``: colour a diagram by the structural diff against another model.

The differ is :func:`inspector.report.diff.diff`, run as ``diff(OTHER, MODEL)`` so its
"added" means *in the drawn model only*; this module only maps that answer onto a
:class:`~.view.View`, so the diagram and ``inspector diff`` can never disagree:

* boxes get a status: ``added``, ``changed`` (class, config, shapes or params),
  ``same``; expanded nested models are diffed recursively, inner box by box;
* layers only OTHER has become dashed *ghost* boxes (status ``removed``) with
  OTHER's attributes, joined by dashed edges to whichever neighbours are drawn;
* connections get ``added`` / ``removed`` (removed ones between drawn boxes are
  drawn dashed), except where that would make a cycle (a reversed connection),
  which no layout can rank.

Nothing here imports TensorFlow: OTHER is read like any model file.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.render.view import VEdge, View, VNode
from inspector.report.diff import TUNING_NAMES
from inspector.report.diff import diff as structural_diff

ADDED, CHANGED, REMOVED, SAME = "added", "changed", "removed", "same"

#: status -> (fill, pen). Family colours are off in diff mode, so green/amber/red only ever mean the diff.
COLOURS: dict[str, tuple[str, str]] = {
    ADDED: ("#b9f6ca", "#2e7d32"),
    CHANGED: ("#ffe0a3", "#e65100"),
    REMOVED: ("#ffebee", "#c62828"),
    SAME: ("#f4f6f7", "#9e9e9e"),
}
REMOVED_FONT = "#8e2a2a"
#: markers at the start of the status line in each box (readable in black-and-white print too)
MARKS = {ADDED: "+", CHANGED: "~", REMOVED: "−"}


# --------------------------------------------------------------------------- reading OTHER
def display_name(g: ModelGraph) -> str:
    """What the title calls OTHER: its file name, else the model name."""
    src = g.meta.get("source")
    return os.path.basename(str(src)) if src else g.name


def other_graph(source: Any) -> tuple[ModelGraph, str]:
    """(graph, display name) of the model to diff against: a ModelGraph, a path or a live model.

    A read failure keeps its type and file but says it was the ``--diff`` model, so the
    CLI's one error line is not mistaken for a problem with MODEL."""
    if isinstance(source, ModelGraph):
        return source, display_name(source)
    from inspector.readers.source import read

    try:
        g = read(source)
    except InspectorError as e:
        raise about_other(e, source) from None
    if isinstance(source, (str, os.PathLike)):
        return g, os.path.basename(os.fspath(source))
    return g, display_name(g)


def about_other(e: InspectorError, source: Any) -> InspectorError:
    """``e`` reworded as a problem with the ``--diff`` model (same exception object)."""
    if isinstance(source, (str, os.PathLike)) and not e.path:
        e.path = os.fspath(source)
    if not e.message.startswith("cannot read the --diff model"):
        e.message = f"cannot read the --diff model: {e.message}"
    return e


# --------------------------------------------------------------------------- marking the view
def annotate(view: View, g: ModelGraph, other: ModelGraph, against: str, partial: bool = False) -> None:
    """Set diff statuses on ``view`` (drawn from ``g``) and add OTHER's removed layers as ghosts.

    ``partial`` (a --layer-range view): only ghosts connected to drawn boxes are added."""
    d = structural_diff(other, g)
    hl_on = any(n.highlighted is not None for n in view.nodes.values())
    inner: Counter = Counter()
    _mark(view, g, other, d, "", None, partial, hl_on, inner)
    counts = {k: len(d[k]) for k in ("added", "changed", "removed", "connections_added", "connections_removed")}
    view.diff = {"against": against, **counts, "params_delta": d["params"]["delta"]}
    note = (f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed layer calls"
            f" · connections +{counts['connections_added']} −{counts['connections_removed']}")
    if view.totals.get("params_known", True) and other.totals().get("params_known", True):
        note += f" · params {d['params']['delta']:+,}"
    if any(inner.values()):  # the counts above are the top level's, as `inspector diff` reports them
        note += (f" · inside nested models: {inner['added']} added, {inner['changed']} changed, "
                 f"{inner['removed']} removed")
    view.notes.append(note)


def _sub(g: ModelGraph, nid: str) -> ModelGraph | None:
    key = g.node(nid).get("subgraph") if nid in g else None
    return g.subgraphs.get(key) if key is not None else None


def _mark(view: View, g: ModelGraph, other: ModelGraph, d: dict[str, Any], prefix: str, cluster: str | None,
          partial: bool, hl_on: bool, inner: Counter) -> None:
    """Mark one level; ``inner`` tallies what changed inside expanded nested models."""
    added = {n["id"] for n in d["added"]}
    changed = {c["id"]: c["changes"] for c in d["changed"]}
    for nid in g.order():
        did = prefix + nid
        status = ADDED if nid in added else CHANGED if nid in changed else SAME
        if did in view.clusters:  # an expanded nested model: diff its insides with the same differ
            view.clusters[did].diff = status
            sub, osub = _sub(g, nid), (None if status == ADDED else _sub(other, nid))
            if sub is not None and osub is not None:
                sd = structural_diff(osub, sub)
                inner.update({k: len(sd[k]) for k in ("added", "changed", "removed")})
                _mark(view, sub, osub, sd, did + "/", did, False, hl_on, inner)
            else:  # new, or a plain layer in OTHER: everything inside is new
                for n in view.nodes.values():
                    if n.id.startswith(did + "/"):
                        n.diff = ADDED
        elif did in view.nodes:
            n = view.nodes[did]
            n.diff = status
            if status == CHANGED:
                n.diff_info = changed[nid]
    _add_ghosts(view, other, [n["id"] for n in d["removed"]], prefix, cluster, partial, hl_on)
    _mark_edges(view, other, d, prefix)


def _add_ghosts(view: View, other: ModelGraph, removed: list[str], prefix: str, cluster: str | None,
                partial: bool, hl_on: bool) -> None:
    if not removed:
        return
    store = other.store
    show = set(removed)
    if partial:  # only what touches the drawn range, and removed layers chained to that
        gone = set(removed)
        nbrs: dict[str, set[str]] = {r: set() for r in removed}
        for u, v in store.edges():
            for a, b in ((u, v), (v, u)):
                if a in gone:
                    nbrs[a].add(b)
        todo = [r for r in removed if any(_drawn_end(view, prefix + x, 0, True) in view.nodes
                                          for x in nbrs[r] if x not in gone)]
        show = set(todo)
        while todo:
            for x in nbrs[todo.pop()]:
                if x in gone and x not in show:
                    show.add(x)
                    todo.append(x)
    for r in removed:
        if r in show:
            view.nodes[prefix + r] = VNode(prefix + r, dict(store.nodes[r]), cluster,
                                           highlighted=False if hl_on else None, diff=REMOVED)


def _mark_edges(view: View, other: ModelGraph, d: dict[str, Any], prefix: str) -> None:
    """Colour added connections; draw removed ones between drawn boxes, dashed."""
    new = Counter(tuple(e) for e in d["connections_added"])
    cut = len(prefix)
    for e in view.edges:
        if e.diff is None and e.src.startswith(prefix) and e.dst.startswith(prefix):
            key = (e.src[cut:], e.dst[cut:], e.attrs.get("tensor_index") or 0)
            if new[key] > 0:
                new[key] -= 1
                e.diff = ADDED
    if not d["connections_removed"]:
        return
    attrs: dict[tuple, list[dict]] = {}
    for u, v, a in other.store.edges(data=True):
        attrs.setdefault((u, v, a.get("tensor_index") or 0), []).append(a)
    extra = []
    for u, v, t in d["connections_removed"]:
        s, e = _drawn_end(view, prefix + u, t, True), _drawn_end(view, prefix + v, 0, False)
        if s in view.nodes and e in view.nodes:
            found = attrs.get((u, v, t)) or [{"tensor_index": t}]
            extra.append(VEdge(s, e, dict(found.pop(0) if len(found) > 1 else found[0]), diff=REMOVED))
    view.edges.extend(_acyclic(view, extra))


def _drawn_end(view: View, did: str, t: int, source: bool) -> str:
    """Where a connection to ``did`` is drawn: an expanded nested model is a frame, not a box,
    so its output (``source``) or first input box stands in (else a ghost beside a nested
    model floated unconnected)."""
    c = view.clusters.get(did)
    while c is not None:
        ends = [d for d, _ in c.exit] if source else c.entry
        if not ends:
            return did
        did = ends[min(t, len(ends) - 1)] if source else ends[0]
        c = view.clusters.get(did)
    return did


def _acyclic(view: View, extra: list[VEdge]) -> list[VEdge]:
    """``extra`` minus the edges that would close a cycle with the drawn ones (kept in order)."""
    import networkx as nx

    dag = nx.DiGraph([(e.src, e.dst) for e in view.edges])
    dag.add_nodes_from(view.nodes)
    trial = dag.copy()
    trial.add_edges_from((e.src, e.dst) for e in extra)
    if nx.is_directed_acyclic_graph(trial):
        return extra
    kept = []
    for e in extra:
        if e.src != e.dst and not nx.has_path(dag, e.dst, e.src):
            dag.add_edge(e.src, e.dst)
            kept.append(e)
    if len(kept) < len(extra):
        view.notes.append(f"{len(extra) - len(kept)} removed connection(s) not drawn: they would run against "
                          "the flow (the layers were reordered)")
    return kept


# --------------------------------------------------------------------------- collapsed boxes
def box_status(members: list[VNode]) -> tuple[str | None, dict[str, Any]]:
    """Status of a collapsed box from its members: all new → added, any change inside → changed."""
    statuses = [m.diff for m in members]
    if all(s is None for s in statuses):
        return None, {}
    inside: dict[str, list[str]] = {}
    for m in members:
        if m.diff in (ADDED, CHANGED, REMOVED):
            inside.setdefault(m.diff, []).append(m.id)
    for s in (ADDED, REMOVED):
        if len(inside.get(s, ())) == len(members):
            return s, {}
    return (CHANGED if inside else SAME), ({"members": inside} if inside else {})


# --------------------------------------------------------------------------- styles and text
def node_attrs(n: VNode) -> dict[str, str]:
    """Graphviz attributes that show a box's status (merged over its usual style)."""
    fill, pen = COLOURS.get(n.diff or SAME, COLOURS[SAME])
    d = {"fillcolor": fill, "color": pen}
    if n.diff in (ADDED, CHANGED):
        d["penwidth"] = "2.2"
    elif n.diff == REMOVED:
        d.update(style="rounded,filled,dashed", penwidth="1.8", fontcolor=REMOVED_FONT)
    return d


def edge_attrs(status: str | None) -> dict[str, str]:
    if status == ADDED:
        return {"color": COLOURS[ADDED][1], "penwidth": "1.8"}
    if status == REMOVED:
        return {"color": COLOURS[REMOVED][1], "style": "dashed", "penwidth": "1.4"}
    return {}


def legend(against: str) -> list[tuple[str, str, str]]:
    """(fill, pen, text) per status, for the diagram's legend."""
    text = {ADDED: "+ added: only in this model", CHANGED: "~ changed",
            REMOVED: f"− removed: only in {against}", SAME: "unchanged"}
    return [(*COLOURS[s], text[s]) for s in (ADDED, CHANGED, REMOVED, SAME)]


#: longest before/after value quoted in a tooltip (a nested model's whole layer list is one config key)
MAX_VALUE = 60


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def changes_text(changes: dict[str, Any]) -> list[str]:
    """The differ's ``changes`` as ``what: before → now`` lines (before = OTHER)."""
    lines = []
    for k, v in changes.items():
        if k == "config":
            lines += [f"{ck}: {_value(a)} → {_value(b)}" for ck, (a, b) in v.items()]
        elif k == "members":
            lines += [f"{s} inside: {', '.join(ids)}" for s, ids in v.items()]
        elif k in TUNING_NAMES:
            lines.append(f"{TUNING_NAMES[k]}: {v[0] or 'none'} → {v[1] or 'none'}")
        else:
            name = {"class_name": "class", "output_shapes": "output"}.get(k, k)
            lines.append(f"{name}: {_value(v[0])} → {_value(v[1])}")
    return lines


def status_line(n: VNode) -> str | None:
    """One short line in the box: ``+ added``, ``~ changed: units, params``, ``− removed``."""
    if n.diff not in MARKS:
        return None
    if n.diff != CHANGED:
        return f"{MARKS[n.diff]} {n.diff}"
    info = n.diff_info
    if "members" in info:
        return "~ " + ", ".join(f"{len(ids)} {s}" for s, ids in info["members"].items()) + " inside"
    keys = [k for k in info if k != "config"] + list(info.get("config") or {})
    names = {"class_name": "class", "output_shapes": "output", "quantization": _tuning_word(info, "quantization"),
             "lora_rank": _tuning_word(info, "lora_rank"), "dtype_policy": "dtype policy"}
    return "~ changed: " + ", ".join(names.get(k, k) for k in keys)


def _tuning_word(info: dict[str, Any], key: str) -> str:
    """``int8`` / ``LoRA r=4`` (now on), ``float`` / ``LoRA off`` (now off): the box's short mark."""
    if key not in info:
        return key
    now = info[key][1]
    if key == "quantization":
        return f"quantized {now}" if now else "dequantized"
    return f"LoRA r={now}" if now else "LoRA off"


def tooltip_lines(n: VNode) -> list[str]:
    """The full story for the hover text and the HTML side panel."""
    if n.diff not in MARKS:
        return []
    head = {ADDED: "diff: added (not in the other model)", CHANGED: "diff: changed",
            REMOVED: "diff: removed (only in the other model)"}[n.diff]
    return [head] + ["  " + x for x in changes_text(n.diff_info)]
