"""Summary tables of a :class:`ModelGraph`: text (rich on a TTY), markdown, JSON.

One row per layer *call* (Keras's ``model.summary()`` shows one per layer and
hides repeated calls); a shared layer's parameters are counted on its first
call only and later calls say ``shared``.
"""
from __future__ import annotations

import json
import re
from typing import Any

from inspector.graph import ModelGraph
from inspector.layers.hparams import key_params
from inspector.report import stats_columns
from inspector.report.macs_note import macs_line


def fmt_shape(shape: Any) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_shapes(shapes: list | None) -> str:
    shapes = shapes or []
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return fmt_shape(shapes[0])
    return "[" + ", ".join(fmt_shape(s) for s in shapes) + "]"


def human(n: int | None, unit: str = "") -> str:
    """12345678 → '12.3M' (None → '?')."""
    if n is None:
        return "?"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}{unit}"
    return f"{n}{unit}"


def human_bytes(n: int) -> str:
    for div, suffix in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")):
        if n >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{n} B"


def rows(g: ModelGraph) -> list[dict[str, Any]]:
    """Row dicts in model order: the data behind every table format."""
    out = []
    for nid, a in g.nodes():
        preds = g.in_edges(nid)
        first = a.get("call_index", 0) == 0
        pt, pn = a.get("params_trainable"), a.get("params_non_trainable")
        params = (pt or 0) + (pn or 0) if first and (pt is not None or pn is not None) else None
        out.append({
            "id": nid,
            "name": a.get("name"),
            "class_name": a.get("class_name"),
            "kind": a.get("kind"),
            "output_shapes": a.get("output_shapes"),
            "params": params,
            "shared": not first,
            "num_calls": a.get("num_calls", 1),
            "macs": a.get("macs"),
            "connected_to": [_src(u, d) for u, _, d in preds],
            "failed": bool(a.get("failed")),
            "quantization": a.get("quantization"),
            "lora_rank": a.get("lora_rank"),
            "dtype_policy": a.get("dtype_policy"),
            "details": key_params(a.get("class_name"), a.get("config")),
            **({"stats": a["stats"]} if a.get("stats") else {}),
        })
    return out


def _src(u: str, d: dict) -> str:
    t = d.get("tensor_index") or 0
    return u if t == 0 else f"{u}[{t}]"


def _param_cell(r: dict) -> str:
    if r["shared"]:
        return "shared"
    return "?" if r["params"] is None else f"{r['params']:,}"


def _name_cell(r: dict) -> str:
    extra = f" (call {r['id'].rsplit(':', 1)[-1]})" if r["num_calls"] > 1 else ""
    return f"{r['name']}{extra}"


def _class_cell(r: dict) -> str:
    """The class, tagged with what changes how it counts: ``Dense [int8]``, ``Dense [LoRA r=4]``."""
    tags = [t for t in (r.get("quantization"), f"LoRA r={r['lora_rank']}" if r.get("lora_rank") else None) if t]
    return (r["class_name"] or "") + (f" [{', '.join(tags)}]" if tags else "")


def table_cells(g: ModelGraph) -> tuple[list[str], list[list[str]]]:
    rs = rows(g)
    extra = stats_columns.headers(rs)      # summary --stats: activation statistics before "Connected to"
    head = ["Layer (call)", "Class", "Output shape", "Params", "MACs", *extra, "Connected to"]
    body = [[_name_cell(r), _class_cell(r),
             "FAILED (see error)" if r["failed"] else fmt_shapes(r["output_shapes"]), _param_cell(r),
             human(r["macs"]), *(stats_columns.cells(r) if extra else []), ", ".join(r["connected_to"])] for r in rs]
    return head, body


def footer(g: ModelGraph) -> list[str]:
    t = g.totals()
    meta = g.meta
    none = not t["params_known"] and not t["params_total"]  # nothing read: unknown, never 0
    lines = [
        ("Total params: ? (weights not read)" if none else
         f"Total params: {t['params_total']:,} ({human_bytes(t['params_bytes'])})"
         + ("" if t["params_known"] else "  [some layers' weights were not found]")),
        *([f"  of which LoRA adapters: {t['params_lora']:,} (Keras creates them on load; the file holds "
           "the merged kernels)"] if t.get("params_lora") else []),
        *([f"  of which quantization scales and statistics: {t['params_quantization']:,}"]
          if t.get("params_quantization") else []),
        "Trainable params: " + ("?" if none else f"{t['params_trainable']:,}"),
        "Non-trainable params: " + ("?" if none else f"{t['params_non_trainable']:,}"),
        macs_line(g, human),
        "Inputs: " + (", ".join(f"{i} {fmt_shapes(g.node(i).get('output_shapes'))}" for i in g.inputs)
                      or "? (none known)"),
        "Outputs: " + (", ".join(_src(o, {"tensor_index": t_}) + " " + fmt_shape(_out_shape(g, o, t_))
                                 for o, t_ in g.outputs) or "? (none known)"),
    ]
    if meta.get("keras_version"):
        lines.append(f"Saved with Keras {meta['keras_version']}" + (f" ({meta['format']})" if meta.get("format") else ""))
    if meta.get("traced"):
        lines.append("Graph traced from a live model (not read from a saved graph).")
    if meta.get("hint"):
        lines.append(f"Note: {meta['hint']}")
    for note in meta.get("notes") or []:
        lines.append(f"Note: {note}")
    return lines


def _out_shape(g: ModelGraph, nid: str, t: int) -> Any:
    shapes = g.node(nid).get("output_shapes") or []
    return shapes[t] if t < len(shapes) else None


def render_text(g: ModelGraph, rich_tty: bool = False, cells: tuple | None = None) -> str:
    """Plain text table (or a rich table rendered to text when ``rich_tty``); ``cells``: other
    (head, body) rows, e.g. the hierarchy of :mod:`inspector.report.tree`."""
    head, body = cells or table_cells(g)
    title = f'Model: "{g.name}" ({g.class_name})'
    if rich_tty:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for h in head:
            table.add_column(h, overflow="fold")
        for r in body:
            table.add_row(*r)
        console = Console(record=True)
        with console.capture() as cap:
            console.print(table)
            for line in footer(g):
                console.print(line, highlight=False, markup=False)
        return cap.get()
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)]
    sep = "  "
    lines = [title, sep.join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
             sep.join("-" * w for w in widths)]
    lines += [sep.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    lines.append("")
    lines += footer(g)
    return "\n".join(lines) + "\n"


#: Markdown punctuation a name could use to format, link, break a table cell, start an entity or
#: open raw HTML; CommonMark takes a backslash before any ASCII punctuation as that character.
#: (Without ``[`` and ``]`` no link can form, so parentheses in shapes stay as they are.)
#: ``_`` is escaped only where it could start or end emphasis: at a word's edge.
_MD_SPECIAL = set("\\`*[]<>|~&")


def md_text(text: Any) -> str:
    """``text`` shown literally in Markdown (a table cell or a line), whatever it holds."""
    text = "".join("\\" + c if c in _MD_SPECIAL else c for c in str(text).replace("\n", " "))
    # an underscore inside a word (text_body) never starts emphasis in CommonMark: left as it is
    return re.sub(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])", r"\\_", text)


def render_markdown(g: ModelGraph, cells: tuple | None = None) -> str:
    head, body = cells or table_cells(g)
    lines = [f"**Model:** {md_text(g.name)} ({md_text(g.class_name)})", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in r) + " |" for r in body]
    lines.append("")
    lines += [f"- {md_text(line)}" for line in footer(g)]
    return "\n".join(lines) + "\n"


def render_json(g: ModelGraph) -> str:
    data = {
        "name": g.name,
        "class_name": g.class_name,
        "keras_version": g.meta.get("keras_version"),
        "format": g.meta.get("format"),
        "inputs": [{"name": i, "shape": g.node(i).get("output_shapes", [None])[0],
                    "dtype": (g.node(i).get("output_dtypes") or [None])[0]} for i in g.inputs],
        "outputs": [{"name": o, "tensor_index": t, "shape": _out_shape(g, o, t)} for o, t in g.outputs],
        "layers": rows(g),
        "totals": g.totals(),
        "notes": [g.meta["hint"]] if g.meta.get("hint") else [],
    }
    return json.dumps(data, indent=1, default=str) + "\n"
