"""``--collapse``: fold name groups and repeated blocks so a 1,000-layer model stays readable.

Three passes over a :class:`~.view.View`:

1. **Name groups** (:mod:`.groups`): ``conv2_block1_*``, ``block2a_*``, NASNet's
   ``…_4`` cells become one box each. Any group whose folding would create a
   cycle (a path leaving it and coming back) is dissolved: the result is always
   a DAG.
2. **Repeated blocks.** A chain of units (groups, or single layer calls of the
   same class and shape) with the same structure, each feeding the next, folds
   into one box ``×N``: ResNet50's ``conv2_block2`` and ``conv2_block3`` become
   one box, a 2,500-block generated model becomes a handful.
3. **Structure** (:mod:`inspector.graph.blocks`), for the calls no name group took: the same
   single-entry single-exit region (classes, configs without names, shapes, wiring)
   repeated k times in a row folds into one ``×k`` box, so a residual network whose layers
   kept Keras's default names (``conv1d_7``, ``add_3``) folds too. Blocks differing in a
   hyper-parameter (kernel 11 vs 21) fold apart. (It runs before pass 2, which then
   only sees what is left.)

Every folded box carries its per-block parameters and MACs and the hyper-parameters that
tell its layers apart (``block_details``), for the labels and the HTML page.

Model inputs and outputs are never folded away: they stay their own boxes.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

import networkx as nx

from inspector.graph.blocks import find_runs, fold_of, node_key
from inspector.layers.hparams import all_params, key_params
from inspector.render.diffstyle import box_status
from inspector.render.groups import foldable as _foldable
from inspector.render.groups import name_groups
from inspector.render.view import VEdge, View, VNode

#: ``--collapse`` left unset (the CLI's default): fold when the flat diagram has more boxes
#: than this; a longer single column of boxes is no longer read, only scrolled
AUTO_COLLAPSE = 60


def collapse(view: View, min_size: int = 4) -> None:
    """Fold ``view`` in place (see the module docstring)."""
    unit_of = _name_units(view, min_size)
    unit_of = _make_acyclic(view, unit_of)
    struct = _structural(view, unit_of)
    units = _units(view, unit_of)
    taken = {u for _, run in struct for u in run}
    folds = struct + [(_run_id(run), run) for run in _fold_runs(view, units, unit_of, min_size, taken)]
    _rebuild(view, units, folds, unit_of)
    view.collapsed = True


def collapse_auto(view: View, opts: Any) -> bool:
    """Fold an unfolded view when ``opts.collapse`` is None (auto) and it has more than
    :data:`AUTO_COLLAPSE` boxes; True when it folded."""
    if opts.collapse is None and not view.collapsed and len(view.nodes) > AUTO_COLLAPSE:
        collapse(view, opts.collapse_min)
        return True
    return False


def _structural(view: View, unit_of: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Pass 3: repeated blocks by structure among the calls no name group took. Each block
    becomes a unit ``[s:first call]``; returns (box id, the run's units) per run."""
    preds: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for e in view.edges:
        preds[e.dst].append((e.attrs.get("arg_index") or 0, e.src, e.attrs.get("tensor_index") or 0))
    inputs = {d: [(s, t) for _, s, t in sorted(v)] for d, v in preds.items()}

    def key(did: str) -> Any:
        n = view.nodes[did]
        if unit_of[did] != did or not _foldable(n) or n.attrs.get("failed"):
            return None
        return n.cluster, n.diff, node_key(n.attrs)

    external = [d for d, n in view.nodes.items() if n.attrs.get("kind") == "input"]
    out = []
    for blocks in find_runs(list(view.nodes), lambda d: inputs.get(d, ()), key, external):
        if len({view.nodes[d].cluster for b in blocks for d in b}) != 1:
            continue
        run = []
        for b in blocks:
            u = f"[s:{b[0]}]"
            for d in b:
                unit_of[d] = u
            run.append(u)
        out.append((f"[{blocks[0][0]} … {blocks[-1][-1]}]", run))
    if out and not nx.is_directed_acyclic_graph(_quotient(view, unit_of)):  # never expected: a safety net
        for _, run in out:
            for u in run:
                for d in [d for d, x in unit_of.items() if x == u]:
                    unit_of[d] = d
        return []
    return out


def _name_units(view: View, min_size: int) -> dict[str, str]:
    """Display id -> unit id: ``[conv2_block1]`` for calls in a name group, the id itself otherwise."""
    unit_of = {did: did for did in view.nodes}
    for lab, dids in name_groups(view, min_size).items():
        for did in dids:
            unit_of[did] = f"[{lab}]"
    return unit_of


def _quotient(view: View, unit_of: dict[str, str]) -> nx.DiGraph:
    q = nx.DiGraph()
    q.add_nodes_from(unit_of.values())
    q.add_edges_from((unit_of[e.src], unit_of[e.dst]) for e in view.edges if unit_of[e.src] != unit_of[e.dst])
    return q


def _make_acyclic(view: View, unit_of: dict[str, str]) -> dict[str, str]:
    """Dissolve groups that sit on a cycle of the folded graph until it is a DAG."""
    while True:
        q = _quotient(view, unit_of)
        bad = {u for scc in nx.strongly_connected_components(q) if len(scc) > 1 for u in scc if u.startswith("[")}
        if not bad:
            return unit_of
        unit_of = {did: (did if u in bad else u) for did, u in unit_of.items()}


# --------------------------------------------------------------------------- pass 2: repeated blocks
def _units(view: View, unit_of: dict[str, str]) -> dict[str, list[str]]:
    units: dict[str, list[str]] = defaultdict(list)
    for did in view.nodes:  # model order
        units[unit_of[did]].append(did)
    return dict(units)


def _signature(view: View, dids: list[str], internal: Iterable[tuple[str, str]]) -> tuple:
    """Structure of a unit: classes in order plus its internal wiring by position."""
    pos = {d: i for i, d in enumerate(dids)}
    first = view.nodes[dids[0]]
    side = (first.cluster, tuple(view.nodes[d].diff for d in dids))  # --diff: new blocks fold apart from old
    classes = tuple(view.nodes[d].attrs.get("class_name") for d in dids)
    wiring = tuple(sorted((pos[u], pos[v]) for u, v in internal))
    if len(dids) == 1:  # single calls fold only with the same class *and* shapes: Dense(64)×N, not 64 then 10
        return (side, classes, tuple(map(_shape_key, first.attrs.get("output_shapes") or [])))
    return (side, classes, wiring)


def _shape_key(s: Any) -> Any:
    return tuple(s) if isinstance(s, (list, tuple)) else s


def _fold_runs(view: View, units: dict[str, list[str]], unit_of: dict[str, str], min_size: int,
               taken: set[str] = frozenset()) -> list[list[str]]:
    """Runs of same-structure units, each feeding the next, that can fold without a cycle.

    A unit may also take inputs from earlier units of its run (NASNet cells read the two
    previous cells); folding is refused where a path leaves the run and comes back.
    """
    q = _quotient(view, unit_of)
    topo = {u: i for i, u in enumerate(nx.topological_sort(q))}
    internal: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in view.edges:
        if unit_of[e.src] == unit_of[e.dst]:
            internal[unit_of[e.src]].append((e.src, e.dst))
    sig = {u: _signature(view, dids, internal[u]) for u, dids in units.items()}
    foldable = {u for u, dids in units.items() if all(_foldable(view.nodes[d]) for d in dids)}
    done: set[str] = set(taken)
    runs = []
    for u in sorted(units, key=topo.__getitem__):
        if u in done or u not in foldable:
            continue
        run, members = [u], {u}
        while True:
            nxt = [s for s in q.successors(run[-1]) if s in foldable and s not in done and s not in members
                   and sig[s] == sig[u] and _only_from_run(q, s, members, run)]
            if not nxt:
                break
            run.append(min(nxt, key=topo.__getitem__))
            members.add(run[-1])
        need = 2 if len(units[u]) > 1 else min_size
        while len(run) >= need and not _convex(q, set(run), topo):
            run.pop()
        if len(run) >= need:
            runs.append(run)
            done.update(run)
    return runs


def _only_from_run(q: nx.DiGraph, s: str, members: set[str], run: list[str]) -> bool:
    """``s`` reads the last unit of the run, and otherwise only units of the run or what they read."""
    outside = [p for p in q.predecessors(s) if p not in members]
    feeders = {p for m in run[-2:] for p in q.predecessors(m)}
    return all(p in feeders for p in outside)


def _convex(q: nx.DiGraph, run: set[str], topo: dict[str, int]) -> bool:
    """No path leaves ``run`` and re-enters it (so folding it keeps the graph acyclic)."""
    last = max(topo[u] for u in run)
    stack = [s for u in run for s in q.successors(u) if s not in run and topo[s] < last]
    seen = set(stack)
    while stack:
        v = stack.pop()
        for w in q.successors(v):
            if w in run:
                return False
            if w not in seen and topo[w] < last:
                seen.add(w)
                stack.append(w)
    return True


# --------------------------------------------------------------------------- rebuild the view
def _run_id(run: list[str]) -> str:
    return f"[{_unit_name(run[0])} … {_unit_name(run[-1])}]"


def _rebuild(view: View, units: dict[str, list[str]], folds: list[tuple[str, list[str]]],
             unit_of: dict[str, str]) -> None:
    final_of: dict[str, str] = {}  # unit id -> final box id
    boxes: dict[str, tuple[list[str], int]] = {}  # final id -> (member display ids, repeats)
    for fid, run in folds:
        boxes[fid] = ([d for u in run for d in units[u]], len(run))
        for u in run:
            final_of[u] = fid
    for u, dids in units.items():
        if u not in final_of:
            final_of[u] = u
            if len(dids) > 1:
                boxes[u] = (dids, 1)
    box_of = {did: final_of[unit_of[did]] for did in view.nodes}
    new_nodes: dict[str, VNode] = {}
    for did, n in view.nodes.items():
        bid = box_of[did]
        if bid in new_nodes:
            continue
        if bid not in boxes:
            new_nodes[did] = n
            continue
        dids, repeats = boxes[bid]
        new_nodes[bid] = _box(view, bid, dids, repeats)
    edges: dict[tuple[str, str, Any], VEdge] = {}
    for e in view.edges:
        s, d = box_of[e.src], box_of[e.dst]
        if s == d:
            continue
        key = (s, d, _shape_key(e.attrs.get("shape")), e.diff)  # a removed connection never hides in a kept one
        if key in edges:
            edges[key].count += 1
        else:
            edges[key] = VEdge(s, d, dict(e.attrs), diff=e.diff)
    view.nodes = new_nodes
    view.edges = list(edges.values())


def _unit_name(u: str) -> str:
    return u[1:-1] if u.startswith("[") else u


def _box(view: View, bid: str, dids: list[str], repeats: int) -> VNode:
    """A collapsed box: summed params and MACs, the shapes entering and leaving it."""
    first = view.nodes[dids[0]]
    members = [view.nodes[d] for d in dids]
    per_block = len(dids) // max(repeats, 1)
    classes = Counter(m.attrs.get("class_name") for m in members[:per_block])
    params = [(m.attrs.get("params_trainable"), m.attrs.get("params_non_trainable")) for m in members
              if (m.attrs.get("call_index") or 0) == 0]
    known = all(t is not None or n is not None for t, n in params)
    macs = [m.attrs.get("macs") for m in members]
    block = fold_of([dids[:per_block]], lambda d: view.nodes[d].attrs)
    inside = set(dids)
    in_shapes = [e.attrs.get("shape") for e in view.edges if e.dst in inside and e.src not in inside]
    out_shapes = [e.attrs.get("shape") for e in view.edges if e.src in inside and e.dst not in inside]
    hl = [m.highlighted for m in members]
    name = bid[1:-1]
    if first.cluster:  # inside its nested model's frame the model's path would only repeat it
        name = name.replace(first.cluster + "/", "")
    attrs = {
        "name": name,
        "class_name": ", ".join(f"{c}×{k}" if k > 1 else str(c) for c, k in classes.most_common()),
        "kind": "group",
        "input_shapes": _dedupe(in_shapes),
        "output_shapes": _dedupe(out_shapes) or [(first.attrs.get("output_shapes") or [None])[-1]],
        "params_trainable": sum(t or 0 for t, _ in params) if known else None,
        "params_non_trainable": sum(n or 0 for _, n in params) if known else None,
        "macs": sum(macs) if all(x is not None for x in macs) else None,
        "layers_per_block": per_block,
        "params_per_block": block.params_per_block,
        "macs_per_block": block.macs_per_block,
        "block_details": block_details(members[:per_block]),
        "members": [{"id": m.id, "name": m.attrs.get("name"), "class_name": m.attrs.get("class_name"),
                     "output_shapes": m.attrs.get("output_shapes")} for m in members],
        "failed": any(m.attrs.get("failed") for m in members),
        "error": "; ".join(str(m.attrs["error"]) for m in members if m.attrs.get("error")) or None,
    }
    status, info = box_status(members)
    return VNode(bid, attrs, first.cluster, members=dids, repeats=repeats,
                 highlighted=None if hl[0] is None else any(hl), diff=status, diff_info=info)


def block_details(members: list[VNode]) -> dict[str, list[str]]:
    """What tells this block's layers apart, once per distinct layer: ``{"key": ["Conv1D 32, k11
    d4, same", "Activation relu"], "all": [...]}`` (see :mod:`inspector.layers.hparams`)."""
    out: dict[str, list[str]] = {"key": [], "all": []}
    for what, fn in (("key", key_params), ("all", all_params)):
        for m in members:
            fields = fn(m.attrs.get("class_name"), m.attrs.get("config"))
            text = f"{m.attrs.get('class_name')} {', '.join(fields)}" if fields else ""
            if text and text not in out[what]:
                out[what].append(text)
    return out


def _dedupe(shapes: list[Any]) -> list[Any]:
    seen, out = set(), []
    for s in shapes:
        k = _shape_key(s)
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out
