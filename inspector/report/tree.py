"""Summary rows of a layer *hierarchy*, indented by depth (``inspector summary --depth N``).

Two kinds of hierarchy: a weight tree (a model whose file holds no layer graph, a keras-hub
preset, a weights-only file: :mod:`inspector.readers.weight_tree`), and nested models of a
layer graph. Depth follows torchinfo: depth 1 shows the model's top-level layers only, each
deeper level one more level of sub-layers; a block's row carries its whole subtree's
parameters. Default (``depth=None``): a weight tree down to :data:`TREE_DEPTH` levels
(torchinfo's default), a layer graph at its top level (nested models as one row, as before).
"""
from __future__ import annotations

import json
from typing import Any

from inspector.graph import ModelGraph
from inspector.report import summary as s

#: Levels of a weight tree shown when no --depth is given (torchinfo's default).
TREE_DEPTH = 3
_SHAPES_SHOWN = 3


def is_weight_tree(g: ModelGraph) -> bool:
    return any(a.get("weight_tree") for _, a in g.store.nodes(data=True))


def applies(g: ModelGraph, depth: int | None) -> bool:
    """Whether the summary needs the hierarchy view (else the flat table, unchanged)."""
    return is_weight_tree(g) or (depth is not None and depth > 1 and bool(g.subgraphs))


def _prefix(level: int) -> str:
    return "" if level <= 1 else "│ " * (level - 2) + "└─ "


def tree_rows(g: ModelGraph, depth: int | None = None, fold: bool = False) -> list[dict[str, Any]]:
    """One row per node down to ``depth`` (None: every level), parents first. A weight tree's
    model row is depth 0 (its top-level layers depth 1); a layer graph's rows start at 1.
    ``parent`` is the enclosing layer's path in the weights file. With ``fold``, a run of
    consecutive sibling blocks holding the same weights (a transformer's decoder blocks) is
    one row with ``repeats`` = its length and ``last`` = its last block's name; only the first
    block's inside is listed."""
    out: list[dict[str, Any]] = []
    top = 0 if is_weight_tree(g) else 1
    stack = [(g, nid, top, 1, None) for nid in reversed(g.order())]
    while stack:
        graph, nid, level, repeats, last = stack.pop()
        a = graph.store.nodes[nid]
        pt, pn = a.get("params_trainable"), a.get("params_non_trainable")
        out.append({
            "id": a.get("path") if a.get("path") is not None else nid, "name": a.get("name"),
            "attribute": a.get("attribute"), "class_name": a.get("class_name"), "class_key": a.get("class_key"),
            "depth": level, "parent": a.get("parent"), "kind": a.get("kind"),
            "params": None if pt is None and pn is None else (pt or 0) + (pn or 0),
            "params_trainable": pt, "params_non_trainable": pn, "params_own": a.get("params_own"),
            "own_weights": [w for w in a.get("weights") or [] if "/" not in w["name"].removeprefix("vars/")]
            if a.get("weight_tree") else None,
            **({"repeats": repeats, "last": last} if repeats > 1 else {}),
        })
        sub = graph.subgraphs.get(a.get("subgraph")) if a.get("subgraph") is not None else None
        if sub is not None and (depth is None or level < depth):
            runs = _sibling_runs(sub) if fold else [(c, 1, None) for c in sub.order()]
            stack.extend((sub, c, level + 1, k, end) for c, k, end in reversed(runs))
    return out


def _signature(a: dict[str, Any]) -> tuple:
    """What makes two sibling blocks the same: class, and every weight's name, shape, dtype, role."""
    return (a.get("class_name"), a.get("class_key"), a.get("kind"),
            tuple((w["name"], tuple(w["shape"]), w.get("dtype"), w.get("trainable"))
                  for w in a.get("weights") or []))


def _sibling_runs(g: ModelGraph) -> list[tuple[str, int, str | None]]:
    """(first node, run length, last node's name) of ``g``'s children in order; blocks only."""
    runs: list[tuple[str, int, str | None]] = []
    prev = None
    for nid in g.order():
        a = g.store.nodes[nid]
        sig = _signature(a) if a.get("subgraph") is not None else None
        if runs and sig is not None and sig == prev:
            first, k, _ = runs[-1]
            runs[-1] = (first, k + 1, a.get("name"))
        else:
            runs.append((nid, 1, None))
        prev = sig
    return runs


def _class_cell(r: dict) -> str:
    if r["class_name"]:
        return r["class_name"]
    return f"({r['class_key']})" if r.get("class_key") else ""


def _weights_cell(r: dict) -> str:
    ws = r.get("own_weights") or []
    shown = [s.fmt_shape(w["shape"]) + ("" if w.get("dtype") in (None, "float32") else f" {w['dtype']}")
             for w in ws[:_SHAPES_SHOWN]]
    return ", ".join(shown) + (f", … {len(ws) - _SHAPES_SHOWN} more" if len(ws) > _SHAPES_SHOWN else "")


def tree_cells(g: ModelGraph, depth: int | None) -> tuple[list[str], list[list[str]]]:
    """Head and body of the weight-tree table: a block's Params is its subtree's, Own its own."""
    head = ["Layer", "Attribute", "Class", "Params", "Own", "Own weights"]
    body = []
    for r in tree_rows(g, TREE_DEPTH if depth is None else depth, fold=True):
        name = _prefix(r["depth"] + 1) + str(r["name"])
        if r.get("repeats"):     # params are per block: the run holds repeats × as many
            name += f" … {r['last']} (×{r['repeats']})"
        params = "?" if r["params"] is None else f"{r['params']:,}"
        if r.get("repeats") and r["params"] is not None:
            params = f"{r['repeats']} × {params}"
        body.append([name, r["attribute"] or "", _class_cell(r), params,
                     "" if r["params_own"] is None or r["depth"] == 0 else f"{r['params_own']:,}", _weights_cell(r)])
    return head, body


def nested_cells(g: ModelGraph, depth: int) -> tuple[list[str], list[list[str]]]:
    """The layer-graph table with nested models' rows under theirs, to ``depth`` levels."""
    head, _ = s.table_cells(g)
    body: list[list[str]] = []
    _nested_rows(g, 1, depth, body)
    return head, body


def _nested_rows(graph: ModelGraph, level: int, depth: int, body: list[list[str]]) -> None:
    """(Recursion is bounded: readers refuse models nested more than 32 deep.)"""
    for r, row in zip(s.rows(graph), s.table_cells(graph)[1]):
        body.append([_prefix(level) + row[0], *row[1:]])
        a = graph.store.nodes[r["id"]]
        sub = graph.subgraphs.get(a.get("subgraph")) if a.get("subgraph") is not None else None
        if sub is not None and level < depth and not r["shared"]:
            _nested_rows(sub, level + 1, depth, body)


def cells(g: ModelGraph, depth: int | None) -> tuple[list[str], list[list[str]]]:
    return tree_cells(g, depth) if is_weight_tree(g) else nested_cells(g, depth or 1)


def render_json(g: ModelGraph, depth: int | None) -> str:
    """The summary JSON plus ``tree``: every row with its ``depth`` and ``parent``."""
    data = json.loads(s.render_json(g))
    data["tree"] = tree_rows(g, depth)
    data["notes"] = list(dict.fromkeys([*data.get("notes", []), *(g.meta.get("notes") or [])]))
    if g.meta.get("preset"):
        data["preset"] = g.meta["preset"]
    return json.dumps(data, indent=1, default=str) + "\n"
