"""Colours by layer *family*, so a reader sees the structure before reading a label.

A family is decided from the class name only (plus the node's role as a model
input or output): the diagram must colour custom and future Keras classes too,
so the rules are name patterns (in :mod:`inspector.layers.registry`), not a closed list.
"""
from __future__ import annotations

from typing import Any

from inspector.layers import registry

#: family -> (fill colour, human name). Pastel fills keep black text readable in print.
FAMILIES: dict[str, tuple[str, str]] = {
    "input": ("#c8e6c9", "input"),
    "output": ("#ffe082", "output"),
    "conv": ("#bbdefb", "convolution"),
    "dense": ("#d1c4e9", "dense / embedding"),
    "norm": ("#b2dfdb", "normalization"),
    "activation": ("#ffccbc", "activation"),
    "merge": ("#f8bbd0", "merge"),
    "pool": ("#c5cae9", "pooling"),
    "reshape": ("#eeeeee", "reshape / padding"),
    "recurrent": ("#dcedc8", "recurrent"),
    "attention": ("#e1bee7", "attention"),
    "regularization": ("#f5f5f5", "dropout / noise"),
    "preprocessing": ("#fff9c4", "preprocessing"),
    "model": ("#cfd8dc", "nested model"),
    "op": ("#ffffff", "keras.ops call"),
    "group": ("#e0e0e0", "collapsed block"),
    "other": ("#fafafa", "other"),
}

def family(attrs: dict[str, Any], is_output: bool = False) -> str:
    """Family of one node: its role first (input/output/nested model/op), then its class."""
    kind = attrs.get("kind")
    if kind == "input":
        return "input"
    if is_output:
        return "output"
    if kind == "model" or attrs.get("subgraph"):
        return "model"
    fam = registry.family(str(attrs.get("class_name") or ""))
    if fam is not None:
        return fam
    if kind == "op":
        return "op"
    return "other"


def fill(fam: str) -> str:
    return FAMILIES.get(fam, FAMILIES["other"])[0]


#: Styles for states that override the family colour.
FAILED_FILL = "#ef9a9a"
FAILED_PEN = "#c62828"
HIGHLIGHT_PEN = "#d84315"
FADED_FILL = "#f7f7f7"
FADED_FONT = "#9e9e9e"
