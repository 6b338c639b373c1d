"""``inspector summary --collapse``: one row per run of repeated blocks, instead of every call.

A 125-layer residual network is 16 blocks of 7 layers; its table is read as "four groups
of four blocks", so that is what the folded table shows: a row ``block ×4`` with the
parameters and MACs of *one* block (``4 × 22,848``), then that block's layers indented
below it (one exemplar, so a reader sees what is repeated), then the next row after the
run. Runs are found by structure (:mod:`inspector.graph.blocks`), whatever the layers are
called. The footer's totals stay the model's.

Folding is on by default above :data:`AUTO_FOLD` layer calls, where the flat table no
longer fits a screen or two; ``--no-collapse`` gives the flat table.
"""
from __future__ import annotations

import json
from typing import Any

from inspector.graph import ModelGraph
from inspector.graph.blocks import Fold, repeated_blocks
from inspector.layers.hparams import key_params
from inspector.report import summary as s

#: ``summary`` without --collapse/--no-collapse folds models of more layer calls than this
AUTO_FOLD = 60

#: prefix of an exemplar block's layer rows under their fold's row
INDENT = "  · "


def folds_for(g: ModelGraph, collapse: bool | None) -> list[Fold]:
    """The runs to fold: none with ``collapse=False``; with None only above :data:`AUTO_FOLD` calls."""
    if collapse is False or (collapse is None and len(g) <= AUTO_FOLD):
        return []
    return repeated_blocks(g)


def fold_name(g: ModelGraph, f: Fold) -> str:
    return f"{g.node(f.blocks[0][0]).get('name')} … {g.node(f.blocks[-1][-1]).get('name')}"


def _times(k: int, n: int | None, fmt: Any) -> str:
    return "?" if n is None else f"{k} × {fmt(n)}"


def cells(g: ModelGraph, folds: list[Fold]) -> tuple[list[str], list[list[str]]]:
    """The summary table with each run as one row and its first block's layers indented below."""
    head, body = s.table_cells(g)
    index = {nid: i for i, (nid, _) in enumerate(g.nodes())}
    start = {f.blocks[0][0]: f for f in folds}
    hidden = {n for f in folds for n in f.members}
    out: list[list[str]] = []
    for nid, i in index.items():
        f = start.get(nid)
        if f is not None:
            last = g.node(f.blocks[-1][-1])
            row = [fold_name(g, f), f"block ×{f.repeats} ({f.layers_per_block} layers)",
                   s.fmt_shapes(last.get("output_shapes")), _times(f.repeats, f.params_per_block, "{:,}".format),
                   _times(f.repeats, f.macs_per_block, s.human)]
            row += [""] * (len(head) - len(row) - 1) + [body[i][-1]]
            out.append(row)
            out += [[INDENT + body[index[m]][0], _with_details(g, m, body[index[m]][1]), *body[index[m]][2:]]
                    for m in f.blocks[0]]
        elif nid not in hidden:
            out.append(body[i])
    return head, out


def _with_details(g: ModelGraph, nid: str, cls: str) -> str:
    """An exemplar layer's class cell with its key hyper-parameters: what tells one run from the next."""
    a = g.node(nid)
    fields = key_params(a.get("class_name"), a.get("config"))
    return f"{cls} ({', '.join(fields)})" if fields else cls


def fold_rows(g: ModelGraph, folds: list[Fold]) -> list[dict[str, Any]]:
    """The runs as JSON-ready dicts: the calls of each block, per-block and total costs, and the
    hyper-parameters of the first block's layers."""
    return [{
        "name": fold_name(g, f),
        "repeats": f.repeats,
        "layers_per_block": f.layers_per_block,
        "blocks": f.blocks,
        "params_per_block": f.params_per_block,
        "macs_per_block": f.macs_per_block,
        "params": f.params,
        "macs": f.macs,
        "details": block_details(g, f.blocks[0]),
    } for f in folds]


def block_details(g: ModelGraph, block: list[str]) -> list[str]:
    """``["Activation relu", "Conv1D 32, k11 d4, same"]``: each distinct layer's key fields, once."""
    out: dict[str, None] = {}
    for nid in block:
        a = g.node(nid)
        fields = key_params(a.get("class_name"), a.get("config"))
        if fields:
            out[f"{a.get('class_name')} {', '.join(fields)}"] = None
    return list(out)


def render_json(g: ModelGraph, folds: list[Fold]) -> str:
    """``summary --format json`` with a ``folds`` list (every layer row is still there)."""
    data = json.loads(s.render_json(g))
    data["folds"] = fold_rows(g, folds)
    return json.dumps(data, indent=1, default=str) + "\n"
