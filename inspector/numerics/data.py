"""The data a stats or compare run feeds the model, one batch at a time.

``data`` is what ``inspector features`` accepts (a ``.npy`` array, an ``.npz``
of arrays named after the model inputs, a directory of images: read through
:func:`inspector.extract.datasources.match_inputs`, a batch at a time) or, from
Python (the training callback), arrays already in memory: one array, a list in
the model's input order or a dict keyed by input name. Names and shapes are
checked against the extractor's inputs before the first batch, so data that
does not fit the model is one clear error, not a TensorFlow traceback.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from inspector.errors import InspectorError


@dataclass
class MemorySource:
    """An in-memory array with the interface of the file sources (``rows``, ``shape``, ``read``)."""

    name: str
    array: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def rows(self) -> int:
        return int(self.array.shape[0]) if self.array.ndim else 1

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.array[start:stop]


def open_data(ext: Any, data: Any) -> dict[str, Any]:
    """Sources for each of the extractor's inputs (``ext.inputs``), checked; see the module docstring."""
    if isinstance(data, (str, os.PathLike)):
        from inspector.extract.datasources import match_inputs

        path = os.fspath(data)
        if not os.path.exists(path):
            raise InspectorError("no such file or directory", path)
        sources = match_inputs(ext, path)
    else:
        sources = _match_arrays(ext, data)
    rows = {s.rows for s in sources.values()}
    if rows == {0} or not sources:
        raise InspectorError("the data has no rows", data if isinstance(data, str) else None)
    return sources


def _match_arrays(ext: Any, data: Any) -> dict[str, MemorySource]:
    specs = ext.inputs
    expected = ", ".join(f"{s.name} {tuple(s.shape)}" for s in specs) or "(unknown)"
    if isinstance(data, dict):
        given = {str(k): np.asarray(v) for k, v in data.items()}
        matched = {}
        for s in specs:
            hit = next((given[a] for a in (s.name, *getattr(s, "aliases", ())) if a in given), None)
            if hit is None:
                raise InspectorError(f"no array for input {s.name!r}: expected {expected}; given "
                                     + ", ".join(f"{k} {v.shape}" for k, v in given.items()))
            matched[s.name] = hit
    else:
        arrays = [np.asarray(a) for a in data] if isinstance(data, (list, tuple)) else [np.asarray(data)]
        if specs and len(arrays) != len(specs):
            raise InspectorError(f"{len(arrays)} array(s) given for {len(specs)} input(s): expected {expected}")
        names = [s.name for s in specs] or [f"input_{i}" for i in range(len(arrays))]
        matched = dict(zip(names, arrays))
    for s in specs:
        arr = matched[s.name]
        want, have = tuple(s.shape[1:]), tuple(arr.shape[1:])
        if arr.ndim < 1 or len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
            raise InspectorError(f"input {s.name!r}: expected shape {tuple(s.shape)} (batch first), "
                                 f"given {tuple(arr.shape)}")
        if arr.dtype.kind not in "biuf":
            raise InspectorError(f"input {s.name!r}: dtype {arr.dtype} is not numeric")
    rows = {k: (int(v.shape[0]) if v.ndim else 1) for k, v in matched.items()}
    if len(set(rows.values())) > 1:
        raise InspectorError("arrays have different numbers of rows: " + ", ".join(f"{k}={v}" for k, v in rows.items()))
    return {k: MemorySource(k, v) for k, v in matched.items()}


def total_rows(sources: dict[str, Any]) -> int:
    return next(iter(sources.values())).rows


def batches(ext: Any, sources: dict[str, Any], batch_size: int) -> Iterator[tuple[int, Any]]:
    """``(rows, feed)`` per batch, ``feed`` arranged as the extractor takes it, in its input dtypes.

    The last, shorter batch is padded with zero rows to the full batch size (one
    compiled shape: no retrace, no TensorFlow retracing warning); consumers keep
    the first ``rows`` rows of each output (:func:`inspector.numerics.probes.select`),
    so no statistic ever sees a padded row.
    """
    if batch_size < 1:
        raise InspectorError(f"batch size must be >= 1, got {batch_size}")
    dtypes = {s.name: s.dtype for s in ext.inputs}
    total = total_rows(sources)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        arrays = {}
        for k, src in sources.items():
            arr = np.asarray(src.read(start, stop), dtype=dtypes.get(k))
            if stop - start < batch_size:
                arr = np.pad(arr, ((0, batch_size - (stop - start)),) + ((0, 0),) * (arr.ndim - 1))
            arrays[k] = arr
        yield stop - start, ext.feed(arrays)
