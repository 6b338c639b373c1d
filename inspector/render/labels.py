"""Node and edge text: what a reader sees in each box, and in its tooltip.

Labels are Graphviz HTML-like labels (bold name, small class line) built from
plain strings here, so every user-controlled string (layer names, error
messages, class names of custom layers) goes through :func:`esc` exactly once.
"""
from __future__ import annotations

from typing import Any

from inspector.layers.hparams import all_params, key_params
from inspector.render.diffstyle import status_line, tooltip_lines
from inspector.render.escape import HtmlLabel, html_label, label_text
from inspector.render.options import RenderOptions
from inspector.render.view import VEdge, VNode
from inspector.report.summary import fmt_shape, fmt_shapes, human

#: longest text line in a box; longer lines (huge shape lists, error messages) are cut with '…'
MAX_LINE = 80


esc = label_text


def cut(text: str, n: int = MAX_LINE) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def params_of(a: dict[str, Any]) -> int | None:
    pt, pn = a.get("params_trainable"), a.get("params_non_trainable")
    return None if pt is None and pn is None else (pt or 0) + (pn or 0)


def shared_text(a: dict[str, Any]) -> str | None:
    """``shared ×2, call 1`` for a layer called more than once (1-based call number)."""
    n = a.get("num_calls") or 1
    return f"shared ×{n}, call {(a.get('call_index') or 0) + 1}" if n > 1 else None


def _dtypes(a: dict[str, Any]) -> str:
    dts = [d for d in (a.get("output_dtypes") or []) if d]
    return ", ".join(dict.fromkeys(str(d) for d in dts)) or "?"


def info_lines(n: VNode, opts: RenderOptions) -> list[str]:
    """The plain-text lines under the name: class, shapes, dtype/activation/trainable, costs."""
    a = n.attrs
    lines: list[str] = []
    if n.members:
        per = a.get("layers_per_block") or len(n.members)
        lines.append(f"×{n.repeats} blocks of {per} layers" if n.repeats > 1 else f"{len(n.members)} layers")
    if opts.show_shapes:
        ins = a.get("input_shapes") or []
        if a.get("kind") != "input" and ins:
            lines.append("in: " + fmt_shapes(ins))
        if a.get("output_shapes"):
            lines.append("out: " + fmt_shapes(a.get("output_shapes")))
    extra = []
    if opts.show_dtype and not n.members:
        extra.append(_dtypes(a))
    if opts.show_layer_activations and a.get("activation") and not n.members:
        extra.append(f"activation: {a['activation']}")
    if opts.show_trainable and not n.members and a.get("kind") != "input":
        extra.append("trainable" if a.get("trainable", True) is not False else "frozen")
    if extra:
        lines.append(" · ".join(extra))
    costs = []
    p = params_of(a)
    per = n.repeats if n.repeats > 1 and "params_per_block" in a else 0  # a fold: "params: 4 × 8,416" per block
    if opts.show_params and a.get("kind") != "input":
        if (a.get("call_index") or 0) > 0:
            costs.append("params: shared")
        elif per and a.get("params_per_block") is not None:
            costs.append(f"params: {per} × {a['params_per_block']:,}")
        elif p is not None:
            costs.append(f"params: {p:,}")
    if opts.show_macs and a.get("kind") != "input":
        macs = a.get("macs_per_block") if per else a.get("macs")
        costs.append(f"MACs: {per} × {human(macs)}" if per and macs is not None else f"MACs: {human(a.get('macs'))}")
    if costs:
        lines.append(" · ".join(costs))
    shared = shared_text(a)
    if shared:
        lines.append(shared)
    if n.attrs.get("kind") == "model" and not a.get("output_shapes") and a.get("weights"):
        lines.append(f"{len(a['weights'])} weight tensors (no layer graph in the file)")
    if a.get("failed"):
        lines.append("✗ failed: " + str(a.get("error") or "unknown error").splitlines()[0])
    diff = status_line(n)
    if diff:
        lines.append(diff)
    return [cut(x) for x in lines]


def class_text(n: VNode) -> str:
    a = n.attrs
    cls = str(a.get("class_name") or "?")
    if a.get("kind") == "op":
        return f"ops.{cls}"
    return cls + (f" [{', '.join(tags)}]" if (tags := finetune_tags(a)) else "")


def finetune_tags(a: dict[str, Any]) -> list[str]:
    """What changes how a layer counts and runs: its quantization mode and LoRA rank."""
    return [t for t in (a.get("quantization"), f"LoRA r={a['lora_rank']}" if a.get("lora_rank") else None) if t]


#: a collapsed box's class list wraps at this width ("BatchNormalization×3, Conv2D×2, ...")
WRAP = 44


def class_lines(n: VNode) -> list[str]:
    """The class line; a collapsed box's class list wrapped at ', ' so the box stays narrow
    (one 75-character line made a 24-box LR chain of MobileNetV2 10,000 px wide)."""
    text = class_text(n)
    if not n.members or len(text) <= WRAP:
        return [cut(text)]
    lines: list[str] = []
    for part in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= WRAP:
            lines[-1] += ", " + part
        else:
            lines.append(part)
    return [cut(x + ("," if i < len(lines) - 1 else "")) for i, x in enumerate(lines)]


def details(n: VNode, level: str) -> list[str]:
    """The box's hyper-parameters at ``level`` ("key", "all", "none"): a layer's fields, or for a
    folded box one entry per distinct layer of a block (``Conv1D 32, k11 d4, same``)."""
    a = n.attrs
    if level == "none":
        return []
    if n.members:
        return list((a.get("block_details") or {}).get(level) or [])
    fn = key_params if level == "key" else all_params
    return fn(a.get("class_name"), a.get("config"))


def detail_lines(n: VNode, opts: RenderOptions) -> list[str]:
    """:func:`details` as box lines: a layer's fields joined by ', ' and a folded box's layers
    by ' · ', wrapped at :data:`WRAP` so the box stays narrow."""
    items = details(n, opts.details)
    if not items:
        return []
    sep = " · " if n.members else ", "
    lines: list[str] = []
    for part in items:
        if lines and len(lines[-1]) + len(sep) + len(part) <= WRAP:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return [cut(x) for x in lines]


def node_label(n: VNode, opts: RenderOptions) -> HtmlLabel:
    """HTML-like label: bold name (or class when names are off), class line, details, info lines."""
    a = n.attrs
    head = []
    if opts.show_layer_names or n.members:
        head.append(f"<b>{esc(cut(str(a.get('name') or n.id)))}</b>")
        head += [f'<font point-size="9">{esc(x)}</font>' for x in class_lines(n)]
    else:
        head.append(f"<b>{esc(cut(class_text(n)))}</b>")
    head += [f'<font point-size="9">{esc(x)}</font>' for x in detail_lines(n, opts)]
    body = [esc(x) for x in info_lines(n, opts)]
    return html_label("<br/>".join(head + body))


def tooltip(n: VNode) -> str:
    """Plain text shown on hover in SVG/HTML: the full, uncut facts."""
    a = n.attrs
    lines = [f"{a.get('name') or n.id} ({a.get('class_name')})"]
    if n.members:
        lines.append(f"{len(n.members)} layer calls" + (f" in {n.repeats} repeated blocks" if n.repeats > 1 else ""))
    if a.get("input_shapes"):
        lines.append("in: " + fmt_shapes(a.get("input_shapes")))
    lines.append("out: " + fmt_shapes(a.get("output_shapes")))
    p = params_of(a)
    if p is not None and (a.get("call_index") or 0) == 0:
        lines.append(f"params: {p:,}")
    if n.repeats > 1 and a.get("params_per_block") is not None:
        lines.append(f"per block: {a['params_per_block']:,} params, {human(a.get('macs_per_block'))} MACs")
    lines += details(n, "all")
    if a.get("failed"):
        lines.append("error: " + str(a.get("error") or "unknown error"))
    lines += tooltip_lines(n)
    return "\n".join(lines)


def edge_label(e: VEdge) -> str:
    text = fmt_shape(e.attrs.get("shape")) if "shape" in e.attrs else ""
    if e.count > 1:
        text = f"{text} ×{e.count}".strip()
    return cut(text, 40)
