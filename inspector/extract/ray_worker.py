"""What each Ray worker runs: one extractor built once, fed batches on the single-process batch grid.

Bit-identical features need every row computed exactly as
:func:`inspector.extract_features` computes it: at the same position of a batch
of the same size (rows ``k*B .. k*B+B-1`` of the data form batch ``k``, the last
one padded with zeros). A row's features depend only on its own values, its
position and the batch shape, so :class:`FeatureWorker` regroups whatever rows
Ray hands it by that grid (``row_id // B``), fills the missing rows of each
grid batch with zeros, and keeps only the rows it was given. When Ray's batches
already sit on the grid (as :mod:`inspector.extract.ray_engine` plans them),
each grid batch is computed once.

Failures are raised with :data:`MARK` in front, so the driver can pick the one
line that matters out of Ray's wrapped worker tracebacks (:func:`worker_message`).
Nothing here imports Ray; Keras is imported by the worker when it builds the model.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from inspector.errors import InspectorError, one_line
from inspector.extract.features import flatten_outputs
from inspector.extract.submodel import feed_inputs

#: Column holding each row's index in the input data.
ROW_ID = "row_id"
#: Prefix of every message a worker raises for the user; found again in Ray's error text.
MARK = "[inspector-worker] "


class WorkerError(Exception):
    """A worker-side failure worded for the user (its text starts with :data:`MARK`)."""


def worker_message(error: BaseException) -> str | None:
    """The user's line out of a Ray error raised by a :class:`FeatureWorker`, or None."""
    texts = [str(error), str(getattr(error, "error_msg", "") or "")]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        texts.append(str(cause))
    hits = [m for t in texts for m in re.findall(re.escape(MARK) + r"(.*)", t)]
    return hits[-1].strip() if hits else None


@dataclass
class InputInfo:
    """One extractor input: the name data must use, shape (batch dim first), dtype, other accepted names."""

    name: str
    shape: tuple
    dtype: str | None
    aliases: tuple[str, ...] = ()


@dataclass
class ExtractorInfo:
    """How to feed an extractor (inputs, structure) and name its outputs (flattened keys)."""

    inputs: list[InputInfo]
    structure: str                    # "single" | "list" | "dict"
    layer_keys: list[str]             # one per requested layer (node ids)
    keys: list[str] = field(default_factory=list)   # output arrays: layer keys, ``KEY#i`` for multi-output layers

    def feed(self, arrays: dict[str, np.ndarray]) -> Any:
        """Named arrays arranged the way the extractor takes them."""
        return feed_inputs(self.inputs, self.structure, arrays)

    def flatten(self, out: Any) -> dict[str, np.ndarray]:
        """Model outputs as ``{key: array}`` (as the single-process writer names them)."""
        return flatten_outputs(self.layer_keys, out)


def _single_key(tensor: Any, ref: Any) -> str:
    """Node id of the one requested layer call: ``name``, or ``name:k`` for a call of a shared layer."""
    layer = tensor._keras_history[0]
    s = str(ref).strip()
    base, _, k = s.rpartition(":")
    if k.isdigit() and base == layer.name and len(getattr(layer, "_inbound_nodes", ())) > 1:
        return s
    return layer.name


def describe(ext: Any, layers: Sequence[Any] | str | int) -> ExtractorInfo:
    """Inputs, structure and output keys of what ``inspector.feature_extractor`` returned."""
    if not hasattr(ext, "inputs") or not hasattr(ext, "output"):      # HookExtractor: no symbolic graph
        specs = [InputInfo(n, tuple(s), d) for n, s, d in ext.input_specs]
        info = ExtractorInfo(specs, "dict" if len(specs) > 1 else "single", list(ext.keys))
        info.keys = list(info.layer_keys)
        return info
    import keras

    struct = ext.input
    items = list(struct.items()) if isinstance(struct, dict) else [(None, t) for t in keras.tree.flatten(struct)]
    specs = []
    for key, t in items:
        layer_name = t._keras_history[0].name
        specs.append(InputInfo(key or layer_name, tuple(t.shape), str(t.dtype),
                               tuple(dict.fromkeys(a for a in (key, layer_name, t.name) if a))))
    kind = "dict" if isinstance(struct, dict) else "list" if isinstance(struct, (list, tuple)) else "single"
    out = ext.output
    refs = [layers] if isinstance(layers, (str, int)) else list(layers)
    if isinstance(out, dict):
        layer_keys = list(out)
        shaped = out
    else:
        layer_keys = [_single_key(keras.tree.flatten(out)[0], refs[0])]
        shaped = {layer_keys[0]: out}
    keys = []
    for k in layer_keys:
        v = shaped[k]
        keys += [f"{k}#{i}" for i in range(len(v))] if isinstance(v, (list, tuple)) else [k]
    return ExtractorInfo(specs, kind, layer_keys, keys)


def build(model: Any, layers: Any, options: dict) -> tuple[Any, ExtractorInfo]:
    """``inspector.feature_extractor(model, layers, **options)`` and its description."""
    from inspector.extract.submodel import feature_extractor

    ext = feature_extractor(model, layers, **options)
    return ext, describe(ext, layers)


def _as_rows(values: Any, spec: InputInfo | None, column: str) -> np.ndarray:
    """A column of a Ray batch as an array of rows of the input's shape and dtype."""
    arr = np.asarray(values)
    if arr.dtype == object:            # list columns arrive as an array of per-row arrays
        arr = np.stack([np.asarray(v) for v in arr]) if len(arr) else arr
    if spec is None:
        return arr
    want = tuple(spec.shape[1:])
    if None not in want and arr.shape[1:] != want:
        if int(np.prod(arr.shape[1:], dtype=np.int64)) != int(np.prod(want, dtype=np.int64)):
            raise WorkerError(f"{MARK}column {column!r} has rows of shape {arr.shape[1:]}; input {spec.name!r} "
                              f"takes {want}")
        arr = arr.reshape((len(arr), *want))
    if arr.dtype.kind not in "biuf":
        raise WorkerError(f"{MARK}column {column!r}: dtype {arr.dtype} is not numeric")
    return arr


class FeatureWorker:
    """One per Ray worker (``map_batches`` actor): builds the extractor once, then computes batches.

    Two kinds of input batch: *data rows* (a user's dataset: one column per
    extractor input, plus :data:`ROW_ID` when row positions are known), or
    *planned ranges* (``start``/``stop`` columns, one grid batch each) read here
    from ``sources`` (picklable readers of :mod:`inspector.extract.datasources`
    or :mod:`inspector.extract.parquet_source`), so the data never travels
    through Ray's object store.
    """

    def __init__(self, model: Any, layers: Any, batch_size: int, options: dict | None = None,
                 sources: dict[str, Any] | None = None, column_map: dict[str, str] | None = None,
                 id_column: str = ROW_ID):
        try:
            self.ext, self.info = build(model, layers, dict(options or {}))
        except Exception as e:   # ImportError, InspectorError, a user's factory raising, ...
            text = str(e) if isinstance(e, InspectorError) else f"{type(e).__name__}: {e}"
            raise WorkerError(f"{MARK}a Ray worker (pid {os.getpid()}) could not build the extractor: "
                              f"{one_line(text.strip().splitlines()[0] if text.strip() else text, 400)}") from None
        self.batch_size, self.sources, self.id_column = int(batch_size), sources, id_column
        self.column_map = dict(column_map or {})
        self.specs = {s.name: s for s in self.info.inputs}

    # ---- the grid
    def _grid_batch(self, first: int, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Features of rows ``first ..`` placed at their positions in a zero-padded batch of the grid."""
        b = self.batch_size
        n = len(next(iter(arrays.values())))
        front = first % b
        fed = {}
        for name, arr in arrays.items():
            spec = self.specs.get(name)
            if n < b:   # as the single-process reader pads: zeros in the source dtype, then cast
                arr = np.pad(arr, ((front, b - front - n),) + ((0, 0),) * (arr.ndim - 1))
            fed[name] = np.asarray(arr, dtype=spec.dtype if spec else None)
        try:
            out = self.ext.predict_on_batch(self.info.feed(fed))
        except (ValueError, TypeError, KeyError) as e:
            raise WorkerError(f"{MARK}the model failed on the data: {one_line(str(e).splitlines()[0], 200)}") from None
        s = front if n < b else 0
        return {k: v[s:s + n] for k, v in self.info.flatten(out).items()}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.sources is not None:
            return self._planned(batch)
        return self._rows(batch)

    # ---- planned ranges (the CLI path)
    def _planned(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids, parts = [], []
        for a, b in zip(batch["start"].tolist(), batch["stop"].tolist()):
            try:
                arrays = {name: src.read(a, b) for name, src in self.sources.items()}
            except InspectorError as e:
                raise WorkerError(f"{MARK}{e}") from None
            parts.append(self._grid_batch(a, arrays))
            ids.append(np.arange(a, b, dtype=np.int64))
        return _concat(ids, parts, self.info.keys)

    # ---- a user's dataset
    def _columns(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The extractor's inputs out of a batch's columns (``column_map``, then names, then the only column)."""
        cols = [c for c in batch if c != self.id_column]
        found = {}
        for spec in self.info.inputs or [InputInfo(c, (), None) for c in cols]:
            col = self.column_map.get(spec.name) or next((a for a in (spec.name, *spec.aliases) if a in batch), None)
            if col is None and len(self.info.inputs) == 1 and len(cols) == 1:
                col = cols[0]
            if col is None or col not in batch:
                raise WorkerError(f"{MARK}no column for input {spec.name!r} (columns: {', '.join(cols)}); "
                                  "name it after the input or pass column_map={input: column}")
            found[spec.name] = _as_rows(batch[col], self.specs.get(spec.name), col)
        return found

    def _rows(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        clash = [k for k in self.info.keys if k in batch]
        if clash:
            raise WorkerError(f"{MARK}the dataset already has column(s) {', '.join(clash)}; rename them first")
        arrays = self._columns(batch)
        n = len(next(iter(arrays.values())))
        b = self.batch_size
        if self.id_column in batch:
            ids = np.asarray(batch[self.id_column]).astype(np.int64)
        else:   # positions unknown: consecutive chunks, each at the start of a padded batch
            ids = np.arange(n, dtype=np.int64)
        out = {k: None for k in self.info.keys}
        for g in np.unique(ids // b):
            rows = np.nonzero(ids // b == g)[0]
            pos = ids[rows] - g * b
            full = {name: np.zeros((b, *a.shape[1:]), a.dtype) for name, a in arrays.items()}
            for name, a in arrays.items():
                full[name][pos] = a[rows]
            feats = self._grid_batch(g * b, full)
            for k, v in feats.items():
                if out[k] is None:
                    out[k] = np.empty((n, *v.shape[1:]), v.dtype)
                out[k][rows] = v[pos]
        if n == 0:   # an empty batch still gets its columns, typed and shaped like the others
            zeros = {name: np.zeros((b, *a.shape[1:]), a.dtype) for name, a in arrays.items()}
            out = {k: v[:0] for k, v in self._grid_batch(0, zeros).items()}
        return {**batch, **out}


def _concat(ids: list[np.ndarray], parts: list[dict[str, np.ndarray]], keys: Sequence[str]) -> dict[str, np.ndarray]:
    if not parts:
        return {ROW_ID: np.empty((0,), np.int64)}
    return {ROW_ID: np.concatenate(ids), **{k: np.concatenate([p[k] for p in parts]) for k in keys}}
