"""The footer's "MACs per sample" line, and why a count is unknown.

A layer's MACs are unknown either because no rule knows its class (a custom layer, a Lambda)
or because a dimension it works on is left open by the model (``keras.Input((None, 64))``:
any sequence length). In the second case a total of the other layers would be a lower bound
that hides most of the work (attention and recurrent layers scale with the length), so the
line says ``?`` and names the open axes of the inputs the count depends on.
"""
from __future__ import annotations

from typing import Any

from inspector.graph import ModelGraph
from inspector.layers.costs import MAC_RULES
from inspector.layers.kinds import short_name


def _open_axes(shape: Any) -> list[int]:
    """Non-batch axes of ``shape`` whose size is unknown."""
    if not shape:
        return []
    return [i for i, d in enumerate(shape) if i and d is None]


def _has_open_dim(a: dict) -> bool:
    """A layer whose rule would count it, were it not for an open axis of its tensors."""
    if a.get("kind") != "op" and short_name(str(a.get("class_name") or "")) not in MAC_RULES:
        return False
    return any(_open_axes(s) for s in (a.get("input_shapes") or []) + (a.get("output_shapes") or []))


def open_inputs(g: ModelGraph, prefix: str = "") -> tuple[dict[str, Any], bool]:
    """Inputs with open axes that unknown MAC counts depend on (``label -> shape``), and
    whether other layers are unknown for other reasons (no rule)."""
    reaching: dict[str, set[str]] = {}
    found: dict[str, Any] = {}
    other = False
    for nid, a in g.nodes():
        reach = set().union(*(reaching.get(u, set()) for u, _, _ in g.in_edges(nid)))
        if a.get("kind") == "input":
            shape = (a.get("output_shapes") or [None])[0]
            if _open_axes(shape):
                reach.add(nid)
        reaching[nid] = reach
        if a.get("kind") == "input" or a.get("macs") is not None or a.get("failed"):
            continue
        sub = g.subgraphs.get(a.get("subgraph") or "")
        if _has_open_dim(a) and reach:
            found.update({prefix + i: g.node(i)["output_shapes"][0] for i in sorted(reach)})
        elif sub is not None:
            inner, inner_other = open_inputs(sub, f"{prefix}{a.get('name')}/")
            found.update(inner)
            other = other or inner_other or not inner
        else:
            other = True
    return found, other


def _fmt(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def macs_line(g: ModelGraph, human: Any) -> str:
    """``MACs per sample: …`` for the summary footer (``human`` formats a count)."""
    t = g.totals()
    if t["macs_known"]:
        return f"MACs per sample: {human(t['macs'])}"
    found, other = open_inputs(g)
    if not found:
        return "MACs per sample: " + ("?" if not t["macs"] else
                                      f"{human(t['macs'])} (lower bound: some layers unknown)")
    parts = []
    for label, shape in found.items():
        axes = _open_axes(shape)
        parts.append(f"axis {axes[0]}" if len(axes) == 1 else "axes " + ", ".join(map(str, axes)))
        parts[-1] += f" of input '{label}' {_fmt(shape)}"
    return ("MACs per sample: ? (depends on the size of " + " and ".join(parts)
            + ", which the model leaves open" + ("; other layers unknown too" if other else "") + ")")
