"""Per-layer numbers from ``inspector stats`` / ``inspector compare`` files, laid on a graph.

``render MODEL --overlay FILE`` and ``summary MODEL --stats FILE`` both start here:
:func:`load_overlay` reads a stats file (schema ``inspector.stats/1``), a compare
file (``inspector.compare/1``, keyed by model B's node ids) or a directory of the
training callback's ``epoch_NNNN.json`` files, checks that it was computed on
*this* model, and answers one number per layer call for the statistic asked for.

Why the check is strict: a stats file of another model would colour boxes whose
names merely collide (``dense``, ``dense_1`` exist in every model), so a file whose
model name differs, or that names a layer call the graph lacks, is refused with
one line rather than drawn wrong.

A layer call with several outputs (``lstm#1`` is the second output of ``lstm``)
shows the output whose value is the furthest from "fine" for the statistic:
the largest std, max, dead fraction, NaN count, error; the smallest cosine.

Nothing here imports Keras or numpy.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from inspector.errors import InspectorError, quote
from inspector.graph import ModelGraph
from inspector.readers.limits import MAX_JSON_BYTES

STATS_SCHEMA = "inspector.stats/1"
COMPARE_SCHEMA = "inspector.compare/1"
#: What ``--by`` may name, per kind of file; the first is the default.
STATS_BY = ("std", "max", "min", "mean", "abs_mean", "zero_fraction", "dead_fraction", "nan", "inf")
COMPARE_BY = ("rel_l2", "max_abs", "cosine")
#: Statistics where a smaller value is worse (the output shown for a multi-output call is the smallest).
LOWER_IS_WORSE = {"cosine", "min"}
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.json$")


@dataclass
class Frame:
    """One stats/compare file: its label (``epoch 3`` or the file name) and its layer records."""

    label: str
    layers: dict[str, dict[str, Any]]
    first_nonfinite: dict[str, Any] | None = None
    first_over: dict[str, Any] | None = None


@dataclass
class Overlay:
    """Numbers for a graph: ``kind`` stats or compare, the statistic ``by``, one or more frames."""

    kind: str
    by: str
    source: str
    frames: list[Frame] = field(default_factory=list)

    def values(self, frame: int = -1) -> dict[str, float | None]:
        """Node id -> the statistic for one frame (default: the last one, i.e. the newest epoch)."""
        return node_values(self.frames[frame].layers, self.by)

    def records(self, frame: int = -1) -> dict[str, list[dict[str, Any]]]:
        """Node id -> its output records (one per output) in one frame."""
        out: dict[str, list[dict[str, Any]]] = {}
        for key, rec in self.frames[frame].layers.items():
            out.setdefault(base_id(key), []).append(rec)
        return out

    def choices(self) -> tuple[str, ...]:
        return STATS_BY if self.kind == "stats" else COMPARE_BY


def base_id(key: str) -> str:
    """``lstm#1`` (second output of ``lstm``) -> ``lstm``."""
    head, sep, tail = key.rpartition("#")
    return head if sep and tail.isdigit() else key


def worst(by: str, values: list[float | None]) -> float | None:
    """The value furthest from "fine" for statistic ``by`` (smallest for cosine, else largest);
    None when none was measured."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return min(known) if by in LOWER_IS_WORSE else max(known)


def node_values(layers: dict[str, dict[str, Any]], by: str) -> dict[str, float | None]:
    """One number per node id: the worst of its outputs' values of ``by`` (None: not measured)."""
    per_node: dict[str, list[float | None]] = {}
    for key, rec in layers.items():
        v = rec.get(by) if isinstance(rec, dict) else None
        v = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None
        per_node.setdefault(base_id(key), []).append(v)
    return {nid: worst(by, vs) for nid, vs in per_node.items()}


def load_overlay(path: str, graph: ModelGraph, by: str | None = None) -> Overlay:
    """The overlay of ``path`` (a stats/compare file or a directory of epoch files) for ``graph``.

    Raises InspectorError (one line naming the file) when the file is not a stats or
    compare file, was computed on another model, or ``by`` does not fit its kind."""
    if os.path.isdir(path):
        frames, kind = _epoch_frames(path, graph)
    else:
        doc = _read_json(path)
        kind = _kind(doc, path)
        _check_model(doc, kind, graph, path)
        frames = [_frame(doc, kind, os.path.basename(path))]
    choices = STATS_BY if kind == "stats" else COMPARE_BY
    by = by or choices[0]
    if by not in choices:
        what = "a stats file" if kind == "stats" else "a compare file"
        raise InspectorError(f"--by {by}: {what} has {', '.join(choices)}", path)
    return Overlay(kind=kind, by=by, source=os.path.basename(os.path.normpath(path)), frames=frames)


def _epoch_frames(path: str, graph: ModelGraph) -> tuple[list[Frame], str]:
    """The callback's ``epoch_NNNN.json`` files of a directory, in epoch order."""
    names = sorted((int(m.group(1)), n) for n in os.listdir(path) if (m := _EPOCH_FILE.match(n)))
    if not names:
        raise InspectorError("no epoch_NNNN.json stats files in this directory "
                             "(written by inspector.callbacks.ActivationStats)", path)
    frames = []
    for epoch, name in names:
        full = os.path.join(path, name)
        doc = _read_json(full)
        if _kind(doc, full) != "stats":
            raise InspectorError("not a stats file (an epoch directory holds ActivationStats files)", full)
        _check_model(doc, "stats", graph, full)
        frames.append(_frame(doc, "stats", f"epoch {doc.get('epoch') or epoch}"))
    return frames, "stats"


def _read_json(path: str) -> dict[str, Any]:
    try:
        size = os.path.getsize(path)
        if size > MAX_JSON_BYTES:
            raise InspectorError(f"{size:,} bytes: larger than any stats file this tool writes", path)
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise InspectorError("no such file or directory", path) from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InspectorError(f"not a stats or compare file (cannot read it as JSON: {type(e).__name__})",
                             path) from None
    if not isinstance(doc, dict):
        raise InspectorError("not a stats or compare file (the JSON is not an object)", path)
    return doc


def _kind(doc: dict[str, Any], path: str) -> str:
    schema = doc.get("schema")
    if schema == STATS_SCHEMA:
        kind = "stats"
    elif schema == COMPARE_SCHEMA:
        kind = "compare"
    else:
        raise InspectorError(f"not a stats or compare file (schema {quote(schema)}; expected "
                             f"{STATS_SCHEMA} from `inspector stats` or {COMPARE_SCHEMA} from `inspector compare`)",
                             path)
    if not isinstance(doc.get("layers"), dict) or not all(isinstance(v, dict) for v in doc["layers"].values()):
        raise InspectorError(f"malformed {kind} file: 'layers' must map layer calls to records", path)
    return kind


def _check_model(doc: dict[str, Any], kind: str, graph: ModelGraph, path: str) -> None:
    """Refuse a file computed on another model: its model name, then its layer calls."""
    model = doc.get("model") if kind == "stats" else (doc.get("b") or {}).get("model")
    if model is not None and str(model) != graph.name:
        side = "" if kind == "stats" else " (as model B)"
        raise InspectorError(f"this {kind} file was computed on model {quote(model)}{side}, not on "
                             f"{quote(graph.name)}: run `inspector {kind}` on this model", path)
    missing = [k for k in doc["layers"] if base_id(str(k)) not in graph]
    if missing:
        raise InspectorError(f"this {kind} file names layer calls model {quote(graph.name)} does not have "
                             f"({', '.join(quote(m) for m in missing[:3])}{', ...' if len(missing) > 3 else ''}): "
                             "it was computed on another version of the model", path)


def _frame(doc: dict[str, Any], kind: str, label: str) -> Frame:
    return Frame(label=label, layers={str(k): v for k, v in doc["layers"].items()},
                 first_nonfinite=doc.get("first_nonfinite") if kind == "stats" else None,
                 first_over=doc.get("first_over") if kind == "compare" else None)


def attach_stats(g: ModelGraph, path: str) -> None:
    """Read the stats file ``path`` for ``g`` and put each call's record on its node."""
    ov = load_overlay(path, g)
    if ov.kind != "stats":
        raise InspectorError("--stats takes a stats file (`inspector stats`); a compare file goes to "
                             "`render --overlay`", path)
    for nid, recs in ov.records().items():
        rec = dict(recs[0])
        if len(recs) > 1:
            rec["outputs"] = recs
        g.node(nid)["stats"] = rec
    g.meta["stats_source"] = ov.source
