"""``render --overlay FILE [--by STAT]``: boxes coloured by a per-layer number on a legend scale.

The numbers come from :mod:`inspector.numerics.overlay` (a stats file, a compare
file or the callback's epoch directory); this module only maps them to colours,
so the SVG, PNG, PDF, DOT and HTML drawings agree.

The scale is ColorBrewer's sequential YlOrRd (light = fine, dark red = look
here), in :data:`STEPS` bins over the values' range: fractions (zeros, dead
units) always span 0 to 1; counts and magnitudes whose largest value is over
100 times the smallest positive one are binned on a log scale, so one exploding
layer does not paint every other box the same pale yellow. For cosine
similarity, where smaller is worse, the scale is reversed. A box that was not
measured (an input, a layer the stats run did not watch) stays white with a
grey outline and the legend says so. A folded box shows the worst of its members.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inspector.numerics.overlay import LOWER_IS_WORSE, Overlay, node_values, worst
from inspector.render.view import View
from inspector.report.stats_columns import number

#: ColorBrewer YlOrRd, 7 classes: fill colours from "fine" to "look here".
PALETTE = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")
STEPS = len(PALETTE)
#: Bins this dark get white text.
DARK_FROM = 5
UNMEASURED = ("#ffffff", "#bdbdbd")
UNMEASURED_FONT = "#757575"
FRACTIONS = {"zero_fraction", "dead_fraction"}
LABELS = {"std": "std", "max": "max", "min": "min", "mean": "mean", "abs_mean": "mean |x|",
          "zero_fraction": "fraction of zeros", "dead_fraction": "dead-unit fraction", "nan": "NaN count",
          "inf": "Inf count", "rel_l2": "relative L2 error", "max_abs": "max abs error", "cosine": "cosine similarity"}


@dataclass
class Scale:
    """Value -> bin: linear or log between ``lo`` and ``hi``; ``reverse`` for smaller-is-worse."""

    lo: float
    hi: float
    log: bool = False
    reverse: bool = False

    def bin(self, v: float) -> int:
        if self.hi <= self.lo:   # every value the same: nothing stands out
            return 0
        if self.log:
            x = math.log10(max(v, self.lo)) if v > 0 else math.log10(self.lo)
            t = (x - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        b = min(STEPS - 1, max(0, int(t * STEPS)))
        return STEPS - 1 - b if self.reverse else b

    def edges(self) -> list[float]:
        """The STEPS + 1 bin edges in value order."""
        if self.log:
            a, b = math.log10(self.lo), math.log10(self.hi)
            return [10 ** (a + (b - a) * i / STEPS) for i in range(STEPS + 1)]
        return [self.lo + (self.hi - self.lo) * i / STEPS for i in range(STEPS + 1)]


def scale_for(by: str, values: list[float]) -> Scale:
    """The scale for ``values`` of statistic ``by``."""
    if by in FRACTIONS:
        return Scale(0.0, 1.0)
    if not values:
        return Scale(0.0, 1.0, reverse=by in LOWER_IS_WORSE)
    lo, hi = min(values), max(values)
    if by in LOWER_IS_WORSE:
        return Scale(lo, max(hi, lo), reverse=True)
    positive = [v for v in values if v > 0]
    if lo >= 0 and positive and hi / min(positive) > 100:
        return Scale(min(positive), hi, log=True)
    return Scale(min(lo, 0.0) if lo >= 0 else lo, hi)


def colour(scale: Scale, v: float | None) -> tuple[str, str]:
    """(fill, font colour) of a value; unmeasured -> white."""
    if v is None:
        return UNMEASURED[0], UNMEASURED_FONT
    return bin_colour(scale.bin(v))


def bin_colour(b: int) -> tuple[str, str]:
    """(fill, font colour) of bin ``b``: dark bins get white text."""
    return PALETTE[b], "#ffffff" if b >= DARK_FROM else "#000000"


def box_values(view: View, overlay: Overlay, by: str, frame: int = -1) -> dict[str, float | None]:
    """Display id -> the box's number for statistic ``by`` in one frame: a folded box's worst member."""
    values = node_values(overlay.frames[frame].layers, by)
    out: dict[str, float | None] = {}
    for did, n in view.nodes.items():
        out[did] = worst(by, [values.get(m) for m in n.members or [did]])
    return out


def apply_overlay(view: View, overlay: Overlay, frame: int = -1) -> None:
    """Give every box its value (``VNode.overlay``) and the view its scale and legend facts.

    The Overlay itself and the frame's index stay on ``view.overlay`` (``numbers``, ``index``):
    the HTML page embeds every statistic and frame of it (:mod:`.overlay_data`)."""
    for did, v in box_values(view, overlay, overlay.by, frame).items():
        view.nodes[did].overlay = v
    measured = [n.overlay for n in view.nodes.values() if n.overlay is not None]
    scale = scale_for(overlay.by, measured)
    label = overlay.frames[frame].label
    view.overlay = {"by": overlay.by, "label": LABELS.get(overlay.by, overlay.by), "source": overlay.source,
                    "frame": label, "kind": overlay.kind, "scale": scale, "measured": len(measured),
                    "numbers": overlay, "index": frame % len(overlay.frames)}
    for n in view.nodes.values():
        n.overlay_style = node_attrs(view, n.overlay)


def node_attrs(view: View, v: float | None) -> dict[str, str]:
    """Graphviz attributes of a box with overlay value ``v``."""
    fill, font = colour(view.overlay["scale"], v)
    d = {"fillcolor": fill, "fontcolor": font}
    if v is None:
        d["color"] = UNMEASURED[1]
    return d


def legend(view: View) -> list[tuple[str, str, str]]:
    """(fill, font colour, text) cells of the legend, in value order, then "not measured"."""
    return legend_cells(view.overlay["scale"]) + [(UNMEASURED[0], UNMEASURED_FONT, "not measured")]


def legend_cells(scale: Scale) -> list[tuple[str, str, str]]:
    """The scale's STEPS cells (fill, font colour, value range), in value order."""
    e = scale.edges()
    return [(*bin_colour(STEPS - 1 - i if scale.reverse else i), f"{fmt(e[i])}–{fmt(e[i + 1])}")
            for i in range(STEPS)]


def title_note(view: View) -> str:
    o = view.overlay
    return note(o["kind"], o["label"], o["source"], o["frame"])


def note(kind: str, label: str, source: str, frame: str) -> str:
    """The title line naming what the colours show (and which epoch)."""
    what = "error" if kind == "compare" else "activations"
    return f"colour: {label} of {what} ({source}, {frame})" if frame != source \
        else f"colour: {label} of {what} ({source})"


def fmt(v: Any) -> str:
    """A compact number for a legend or a box (as the summary's --stats columns print it)."""
    return "?" if v is None else number(v)
