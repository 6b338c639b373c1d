"""The ``--overlay`` numbers as the HTML page embeds them: every statistic, every frame.

The page switches the colour statistic and the epoch without re-running the
tool, so it needs, for each statistic of the file's kind and each frame, the
colour of every box and the legend. Those are computed here, by the same
:func:`.overlay.box_values`, :func:`.overlay.scale_for` and :func:`.overlay.bin_colour`
that colour the SVG, and embedded as one character per box (the bin, ``.`` for
not measured) plus a small colour table: the page only looks colours up, so it
cannot disagree with the SVG, PNG or DOT drawings. For the details panel each
box also gets its layer calls' records per frame (the statistics, the histogram's
counts and range, or a comparison's errors).

Every string here (layer call keys, file names) reaches the page as JSON and is
shown with ``textContent`` (:mod:`.viewer_overlay`).
"""
from __future__ import annotations

import math
from typing import Any

from inspector.numerics.overlay import Overlay, base_id
from inspector.render import overlay as colours
from inspector.render.diffstyle import MARKS
from inspector.render.view import View, VNode

#: the numbers the details panel shows, per kind of file, in display order
STATS_FIELDS = ("mean", "std", "min", "max", "abs_mean", "zero_fraction", "dead_fraction", "nan", "inf", "count")
COMPARE_FIELDS = ("max_abs", "rel_l2", "cosine", "over", "nonfinite_mismatch", "error")
#: the outline of a measured box (dot.py's node default) for a box drawn unmeasured at first
MEASURED_PEN = "#555555"


def overlay_data(view: View) -> dict[str, Any] | None:
    """What the page needs to recolour and describe the boxes (None without --overlay)."""
    o = view.overlay
    if not o or not isinstance(o.get("numbers"), Overlay):
        return None
    ov: Overlay = o["numbers"]
    bins: dict[str, list[str]] = {}
    legends: dict[str, list[list[tuple[str, str, str]]]] = {}
    notes: dict[str, list[str]] = {}
    for by in ov.choices():
        label = colours.LABELS.get(by, by)
        bins[by], legends[by], notes[by] = [], [], []
        for i, frame in enumerate(ov.frames):
            vals = colours.box_values(view, ov, by, i)
            scale = colours.scale_for(by, [v for v in vals.values() if v is not None])
            bins[by].append("".join("." if v is None else str(scale.bin(v)) for v in vals.values()))
            legends[by].append(colours.legend_cells(scale))
            notes[by].append(colours.note(ov.kind, label, ov.source, frame.label))
    return {"kind": ov.kind, "by": ov.by, "index": o["index"], "source": ov.source,
            "choices": [[by, colours.LABELS.get(by, by)] for by in ov.choices()],
            "frames": [f.label for f in ov.frames],
            "colours": [colours.bin_colour(b) for b in range(colours.STEPS)]
            + [(colours.UNMEASURED[0], colours.UNMEASURED_FONT)],
            "unmeasured_pen": colours.UNMEASURED[1], "measured_pen": MEASURED_PEN, "unmeasured_text": "not measured",
            "bins": bins, "legend": legends, "notes": notes,
            "painted": [f"n{i}" for i, n in enumerate(view.nodes.values()) if _painted(n)],
            "records": [_frame_records(view, ov, i) for i in range(len(ov.frames))]}


def _painted(n: VNode) -> bool:
    """Whether the drawing gives this box its overlay colour (a failed or faded box keeps its own)."""
    faded = n.highlighted is False and n.diff not in MARKS
    return not faded and not n.attrs.get("failed")


def _frame_records(view: View, ov: Overlay, frame: int) -> dict[str, list[dict[str, Any]]]:
    """SVG id -> the records of the box's layer calls (every output) in one frame."""
    by_node = {}
    for key, rec in ov.frames[frame].layers.items():
        by_node.setdefault(base_id(key), []).append(_record(key, rec, ov.kind))
    out = {}
    for i, (did, n) in enumerate(view.nodes.items()):
        recs = [r for m in n.members or [did] for r in by_node.get(m, [])]
        if recs:
            out[f"n{i}"] = recs
    return out


def _record(key: str, rec: dict[str, Any], kind: str) -> dict[str, Any]:
    """One output's numbers for the panel: the statistics (or errors), the rows and the histogram."""
    out: dict[str, Any] = {"key": key}
    for f in STATS_FIELDS if kind == "stats" else COMPARE_FIELDS:
        v = rec.get(f)
        if isinstance(v, bool) or isinstance(v, str) or (isinstance(v, (int, float)) and math.isfinite(v)):
            out[f] = v
    if kind == "compare":
        if rec.get("a") not in (None, key):
            out["a"] = str(rec["a"])
        return out
    out["rows"] = _rows(rec)
    h = rec.get("hist")
    if isinstance(h, dict) and isinstance(h.get("edges"), list) and isinstance(h.get("counts"), list) \
            and len(h["edges"]) == len(h["counts"]) + 1:
        out["hist"] = {"lo": h["edges"][0], "hi": h["edges"][-1], "counts": h["counts"],
                       "under": h.get("under") or 0, "over": h.get("over") or 0}
    return out


def _rows(rec: dict[str, Any]) -> int | None:
    """How many rows the statistics are over: every value seen (finite, NaN, Inf) / values per row."""
    shape = rec.get("shape")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
        return None
    per_row = math.prod(shape[1:])
    seen = sum(int(rec.get(k) or 0) for k in ("count", "nan", "inf"))
    return seen // per_row if per_row and seen % per_row == 0 else None
