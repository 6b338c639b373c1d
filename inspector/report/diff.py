"""Structural diff of two :class:`ModelGraph` s.

Layer calls are matched by node id (layer name, plus call index for shared
layers), which is what stays stable when a model is edited by reusing its
layers (the seed's difficulty head) or re-saved. Reported: calls added and
removed, calls whose class, config, shapes or parameter counts changed, and
connections (tensor edges) added or removed. Fine-tuning and quantization are
reported by what they mean (LoRA enabled, its rank, the quantization mode, the
dtype policy) instead of the config entries that encode them.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from inspector.graph import ModelGraph
from inspector.report.summary import fmt_shapes

#: Config keys that differ between two saves of the same layer and mean nothing.
_IGNORED_CONFIG = {"name", "shared_object_id"}
#: What fine-tuning and quantization change, reported by meaning (``quantization: None -> int8``)
#: rather than as the config entries that encode it.
TUNING = ("quantization", "lora_rank", "dtype_policy")
#: The config entries those encode; left out of the config changes when a TUNING field changed.
_TUNING_CONFIG = {"dtype", "quantization_config", "lora_rank", "lora_alpha"}
#: How the text diff names the TUNING fields.
TUNING_NAMES = {"quantization": "quantization", "lora_rank": "LoRA rank", "dtype_policy": "dtype policy"}


def _config(a: dict) -> Any:
    """The config as a saved file has it: a live model's configs hold tuples where JSON has lists."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k not in _IGNORED_CONFIG}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return clean(a.get("config") or {})


def _params(a: dict) -> tuple[Any, Any]:
    return a.get("params_trainable"), a.get("params_non_trainable")


def _edges(g: ModelGraph) -> Counter:
    return Counter((u, v, d.get("tensor_index") or 0) for u, v, d in g.store.edges(data=True))


def diff(a: ModelGraph, b: ModelGraph) -> dict[str, Any]:
    """What changed from ``a`` to ``b``, as a JSON-ready dict."""
    na, nb = set(a.store.nodes), set(b.store.nodes)
    changed = []
    for nid in [n for n in a.order() if n in nb]:
        x, y = a.node(nid), b.node(nid)
        what: dict[str, Any] = {}
        if x.get("class_name") != y.get("class_name"):
            what["class_name"] = [x.get("class_name"), y.get("class_name")]
        if _shapes_differ(x, y):
            what["output_shapes"] = [fmt_shapes(x.get("output_shapes")), fmt_shapes(y.get("output_shapes"))]
        if _params(x) != _params(y):
            what["params"] = [_total(x), _total(y)]
        tuned = {k: [x.get(k), y.get(k)] for k in TUNING if x.get(k) != y.get(k)}
        what.update(tuned)
        cx, cy = _config(x), _config(y)
        keys = sorted(k for k in set(cx) | set(cy) if cx.get(k) != cy.get(k) and not (tuned and k in _TUNING_CONFIG))
        if keys:
            what["config"] = {k: [cx.get(k), cy.get(k)] for k in keys}
        if what:
            changed.append({"id": nid, "class_name": y.get("class_name"), "changes": what})
    ea, eb = _edges(a), _edges(b)
    ta, tb = a.totals(), b.totals()
    return {
        "a": {"name": a.name, "source": a.meta.get("source")},
        "b": {"name": b.name, "source": b.meta.get("source")},
        "added": [_brief(b, n) for n in b.order() if n not in na],
        "removed": [_brief(a, n) for n in a.order() if n not in nb],
        "changed": changed,
        "connections_added": sorted([list(e) for e in (eb - ea).elements()]),
        "connections_removed": sorted([list(e) for e in (ea - eb).elements()]),
        "inputs": {"a": a.inputs, "b": b.inputs} if a.inputs != b.inputs else None,
        "outputs": ({"a": [o for o, _ in a.outputs], "b": [o for o, _ in b.outputs]}
                    if a.outputs != b.outputs else None),
        "params": {"a": ta["params_total"], "b": tb["params_total"],
                   "delta": tb["params_total"] - ta["params_total"]},
    }


def is_empty(d: dict[str, Any]) -> bool:
    return not any(d[k] for k in ("added", "removed", "changed", "connections_added",
                                  "connections_removed", "inputs", "outputs"))


def _shapes(a: dict) -> list:
    return [list(s) if s is not None else None for s in a.get("output_shapes") or []]


def _shapes_differ(x: dict, y: dict) -> bool:
    """Output shapes known on both sides and different. An unknown shape is no change: a saved
    file cannot tell a custom layer's output shape, the same model built in Python can."""
    sx, sy = _shapes(x), _shapes(y)
    if any(s is None for s in sx + sy) or not sx or not sy:
        return any(a is not None and b is not None and a != b for a, b in zip(sx, sy))
    return sx != sy


def _total(a: dict) -> Any:
    t, n = _params(a)
    return None if t is None and n is None else (t or 0) + (n or 0)


def _brief(g: ModelGraph, nid: str) -> dict[str, Any]:
    a = g.node(nid)
    return {"id": nid, "class_name": a.get("class_name"), "output_shapes": fmt_shapes(a.get("output_shapes")),
            "params": _total(a) if a.get("call_index", 0) == 0 else 0,
            "inputs": [u for u, _ in g.store.in_edges(nid)]}


def render_text(d: dict[str, Any]) -> str:
    """A readable diff: + added, - removed, ~ changed."""
    lines = [f"--- {d['a']['source'] or d['a']['name']}", f"+++ {d['b']['source'] or d['b']['name']}"]
    if is_empty(d):
        return "\n".join(lines + ["no structural differences"]) + "\n"
    for n in d["added"]:
        lines.append(f"+ {n['id']} ({n['class_name']}) {n['output_shapes']} params={n['params']} "
                     f"<- {', '.join(n['inputs']) or '-'}")
    for n in d["removed"]:
        lines.append(f"- {n['id']} ({n['class_name']}) {n['output_shapes']} params={n['params']}")
    for c in d["changed"]:
        parts = []
        for k, v in c["changes"].items():
            if k == "config":
                parts += [f"{ck}: {json.dumps(cv[0])} -> {json.dumps(cv[1])}" for ck, cv in v.items()]
            elif k in TUNING_NAMES:
                parts.append(f"{TUNING_NAMES[k]}: {v[0] or 'none'} -> {v[1] or 'none'}")
            else:
                parts.append(f"{k}: {v[0]} -> {v[1]}")
        lines.append(f"~ {c['id']} ({c['class_name']}): " + "; ".join(parts))
    for e in d["connections_added"]:
        lines.append(f"+ edge {e[0]} -> {e[1]}" + (f" [output {e[2]}]" if e[2] else ""))
    for e in d["connections_removed"]:
        lines.append(f"- edge {e[0]} -> {e[1]}" + (f" [output {e[2]}]" if e[2] else ""))
    if d["inputs"]:
        lines.append(f"~ inputs: {d['inputs']['a']} -> {d['inputs']['b']}")
    if d["outputs"]:
        lines.append(f"~ outputs: {d['outputs']['a']} -> {d['outputs']['b']}")
    p = d["params"]
    lines.append(f"params: {p['a']:,} -> {p['b']:,} ({p['delta']:+,})")
    return "\n".join(lines) + "\n"
