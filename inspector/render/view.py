"""The *view*: the part of a ModelGraph a diagram shows, flattened for drawing.

Every output format (DOT/SVG/PNG/PDF, the HTML page, the built-in fallback
layout) draws the same :class:`View`, so the layer range, nested-model
expansion, highlight and collapse rules are applied once (:mod:`.build`), and cannot
disagree between formats.

Display ids: a top-level node keeps its ModelGraph id; a node inside an
expanded nested model is ``outer/inner`` (Keras forbids ``/`` in layer names,
so these cannot collide); collapsed boxes get ``[prefix]`` ids from
:mod:`.collapse`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class VNode:
    id: str
    attrs: dict[str, Any]
    cluster: str | None = None
    is_output: bool = False
    #: collapsed box: display ids of the layer calls it stands for (empty for a plain node)
    members: list[str] = field(default_factory=list)
    #: collapsed box: how many repeated blocks were folded into it
    repeats: int = 1
    #: None when no --highlight is in effect; else whether this node is highlighted
    highlighted: bool | None = None
    #: None without --diff; else "same", "added", "changed" or "removed" (a ghost from OTHER)
    diff: str | None = None
    #: with --diff: what changed (the differ's ``changes`` dict), or for a collapsed box
    #: {"members": {status: [display ids]}}
    diff_info: dict[str, Any] = field(default_factory=dict)
    #: with --overlay: this box's number (None = not measured); see :mod:`.overlay`
    overlay: float | None = None
    #: with --overlay: the Graphviz colours of that number (fillcolor, fontcolor[, color])
    overlay_style: dict[str, str] = field(default_factory=dict)


@dataclass
class VEdge:
    src: str
    dst: str
    attrs: dict[str, Any]
    #: parallel connections merged into this edge (only after collapsing)
    count: int = 1
    #: None without --diff (or an unchanged connection); "added" or "removed" with --diff
    diff: str | None = None


@dataclass
class Cluster:
    id: str
    label: str
    parent: str | None
    attrs: dict[str, Any]
    #: with --diff: the nested model's status ("same", "added", "changed")
    diff: str | None = None
    #: display ids of the boxes an edge into the nested model lands on (its inputs, in order),
    #: and (display id, tensor index) of its outputs: where a connection to the model is drawn
    entry: list[str] = field(default_factory=list)
    exit: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class View:
    name: str
    class_name: str
    nodes: dict[str, VNode]
    edges: list[VEdge]
    clusters: dict[str, Cluster]
    meta: dict[str, Any]
    totals: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    collapsed: bool = False
    #: with --diff: {"against": OTHER's file name, counts of added/changed/removed, ...}
    diff: dict[str, Any] | None = None
    #: with --overlay: {"by", "label", "source", "frame", "kind", "scale", "measured"}
    overlay: dict[str, Any] | None = None


