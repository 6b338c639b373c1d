"""The ``summary --weights`` report: one row per layer (layer, status, the model's shapes, the
file's shapes), the notes, then the one line CI logs show: "N of M layers would load; first
problem: ...". The check itself is :func:`inspector.readers.weight_match.check` (plain dicts);
this module only lays it out, with every name from a file made one printable line."""
from __future__ import annotations

import json
from typing import Any

from inspector.errors import one_line

HEADERS = ("layer", "status", "model's shapes", "file's shapes")
#: Shapes shown per cell; a layer with more (an attention block) ends with "… N more".
MAX_SHAPES = 4


def _shapes(shapes: list[list[int]]) -> str:
    shown = ", ".join(str(tuple(s)) for s in shapes[:MAX_SHAPES])
    more = len(shapes) - MAX_SHAPES
    return (shown + (f", … {more} more" if more > 0 else "")) or "-"


def _rows(check: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    from inspector.readers.weight_match import describe

    rows = []
    for r in check["layers"]:
        status = describe(r) if r["status"] != "loaded" else "loaded"
        rows.append((one_line(r["layer"], 80), one_line(status, 120), _shapes(r["expected"]), _shapes(r["found"])))
    return rows


def _footer(check: dict[str, Any]) -> list[str]:
    return [f"note: {one_line(n)}" for n in check.get("notes") or []] + [one_line(check["summary"]["line"], 800)]


def render_text(check: dict[str, Any]) -> str:
    rows = _rows(check)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    rule = "  ".join("-" * w for w in widths)
    lines = [f"weights: {one_line(check['weights'], 300)} ({'Keras 3' if check['rules'] == 'keras3' else 'Keras 2 / tf-keras h5'} "
             "rules)", "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)).rstrip(), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if not rows:
        lines.append("(no layer of the model has weights, and the file holds none)")
    return "\n".join([*lines, "", *_footer(check)]) + "\n"


def render_markdown(check: dict[str, Any]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in _rows(check)]
    return "\n".join([*lines, "", *_footer(check)]) + "\n"


def render_json(check: dict[str, Any]) -> str:
    return json.dumps({"weights_check": check}, indent=2) + "\n"
