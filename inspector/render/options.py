"""What a diagram shows: one dataclass shared by the CLI, the Python API and the notebook hook.

Names follow ``keras.utils.plot_model`` where it has the option (``show_shapes``,
``show_dtype``, ``show_layer_names``, ``show_layer_activations``,
``show_trainable``, ``rankdir``, ``dpi``, ``expand_nested``, ``layer_range``),
so code written for plot_model can pass the same keywords.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from inspector.errors import InspectorError

RANKDIRS = ("TB", "LR", "BT", "RL")
DETAILS = ("none", "key", "all")


@dataclass
class RenderOptions:
    show_shapes: bool = True
    show_dtype: bool = False
    show_layer_names: bool = True
    show_layer_activations: bool = False
    show_trainable: bool = False
    show_params: bool = True
    show_macs: bool = False
    #: label every edge with its tensor shape; None = only when shapes are shown and the graph is small
    edge_shapes: bool | None = None
    rankdir: str = "TB"
    dpi: int | None = None
    expand_nested: bool = False
    #: how many levels of nesting to expand (None = all); only with expand_nested
    depth: int | None = None
    #: (first, last) layer names, inclusive, in model order, either may be None (open end);
    #: or the text "FIRST:LAST" (split against the graph, as layer calls have ':' in their ids)
    layer_range: tuple[str | None, str | None] | str | None = None
    highlight: tuple[str, ...] = ()
    #: fold name groups and repeated blocks (:mod:`.collapse`). None = auto, ``inspector render``'s
    #: default: it folds when the flat diagram has more than ``collapse.AUTO_COLLAPSE`` boxes
    #: (:func:`.collapse.collapse_auto`); the Python API's default is False (never fold)
    collapse: bool | None = False
    #: a name-prefix group needs at least this many layer calls to become one box
    collapse_min: int = 4
    #: hyper-parameters in each box: "key" (what tells it apart: "64, 3×3 /2", "k11 d4"), "all" (every
    #: config field not at Keras's default) or "none" (see :mod:`inspector.layers.hparams`)
    details: str = "key"
    color: bool = True
    #: "auto" (dot up to 2,000 boxes, else the built-in layered layout drawn by Graphviz),
    #: "dot" or "layered"
    layout: str = "auto"
    title: str | None = None
    #: seconds before the Graphviz process is stopped (None = no limit)
    timeout: float | None = 600.0
    #: extra Graphviz graph attributes, e.g. {"nodesep": "0.2"}
    graph_attrs: dict[str, str] = field(default_factory=dict)
    #: another model (ModelGraph, file path or live model) to colour the diagram's diff against:
    #: boxes only in this model are "added", boxes of the other only are drawn as "removed" ghosts
    diff: Any = None
    #: per-layer numbers to colour the boxes by: an :class:`inspector.numerics.overlay.Overlay`, or the
    #: path of a stats file, compare file or epoch directory (read against the drawn model)
    overlay: Any = None
    #: the statistic to colour by (std, max, dead_fraction, nan, ...; rel_l2, max_abs, cosine)
    overlay_by: str | None = None

    @classmethod
    def from_kwargs(cls, **kw: Any) -> "RenderOptions":
        """Options from keywords; unknown names are an error that lists the known ones."""
        aliases = {"show_dtypes": "show_dtype", "show_activations": "show_layer_activations",
                   "show_names": "show_layer_names", "expand": "expand_nested"}
        known = {f.name for f in fields(cls)}
        clean: dict[str, Any] = {}
        for k, v in kw.items():
            k = aliases.get(k, k)
            if k not in known:
                raise InspectorError(f"unknown render option {k!r}; known: {', '.join(sorted(known))}")
            clean[k] = v
        opts = cls(**clean)
        opts.validate()
        return opts

    def validate(self) -> None:
        self.rankdir = str(self.rankdir).upper()
        if self.rankdir not in RANKDIRS:
            raise InspectorError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {self.rankdir!r}")
        if self.dpi is not None and not (1 <= int(self.dpi) <= 2400):
            raise InspectorError(f"dpi must be between 1 and 2400, not {self.dpi}")
        if self.depth is not None and int(self.depth) < 0:
            raise InspectorError(f"depth must be >= 0, not {self.depth}")
        if self.layout not in ("auto", "dot", "layered"):
            raise InspectorError(f"layout must be auto, dot or layered, not {self.layout!r}")
        if self.details not in DETAILS:
            raise InspectorError(f"details must be one of {', '.join(DETAILS)}, not {self.details!r}")
        if self.collapse_min < 2:
            raise InspectorError("collapse_min must be at least 2")
        if isinstance(self.highlight, str):
            self.highlight = (self.highlight,)
        self.highlight = tuple(self.highlight or ())
        if isinstance(self.layer_range, str):
            if ":" not in self.layer_range:
                raise InspectorError(f"layer range must be FIRST:LAST (either may be empty), "
                                     f"not {self.layer_range!r}")
        elif self.layer_range is not None:
            first, last = self.layer_range
            self.layer_range = (first or None, last or None)
