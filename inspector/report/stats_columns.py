"""``summary --stats FILE``: the activation statistics of a stats file as summary columns.

:func:`inspector.numerics.overlay.attach_stats` reads the file, checks it against the model
(a stats file of another model is refused) and gives each measured layer call a ``stats``
node attribute (its first output's record; every output's under ``outputs`` when it has
several); this module shows them as columns in the text/Markdown tables (the JSON rows
carry them whole).
"""
from __future__ import annotations

from typing import Any

#: (header, record key, kind): kind "num" = 3 significant digits, "frac" = a percentage.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Mean", "mean", "num"), ("Std", "std", "num"), ("Min", "min", "num"), ("Max", "max", "num"),
    ("Zeros", "zero_fraction", "frac"), ("Dead", "dead_fraction", "frac"),
)


def headers(rows: list[dict[str, Any]]) -> list[str]:
    """The extra column headers, when any row carries statistics."""
    if not any(r.get("stats") for r in rows):
        return []
    return [h for h, _, _ in COLUMNS] + ["NaN/Inf"]


def cells(r: dict[str, Any]) -> list[str]:
    s = r.get("stats")
    if not s:
        return [""] * (len(COLUMNS) + 1)
    out = [_fmt(s.get(key), kind) for _, key, kind in COLUMNS]
    nan, inf = s.get("nan") or 0, s.get("inf") or 0
    out.append(f"{nan:,}/{inf:,}" if nan or inf else "0")
    return out


def _fmt(v: Any, kind: str) -> str:
    if v is None:
        return "-"
    return f"{100 * float(v):.1f}%" if kind == "frac" else number(v)


def number(v: Any) -> str:
    """A compact statistic: 3 significant digits, an exponent when far from 1 (tables, legends)."""
    v = float(v)
    if v == 0:
        return "0"
    return f"{v:.2e}" if abs(v) >= 1e4 or abs(v) < 1e-3 else f"{v:.3g}"
