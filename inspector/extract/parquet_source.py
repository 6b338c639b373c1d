"""Parquet data for a feature extractor: one column per model input, read a row range at a time.

A Parquet input is a ``.parquet`` file or a directory of them (read recursively,
in sorted path order; names starting with ``_`` or ``.`` are skipped, as Ray and
Spark write ``_SUCCESS`` and ``.crc`` files beside the data). Row ``i`` of the
data is row ``i`` of that sequence, so every row has a fixed index (what lets
the Ray engine return rows in order and bit for bit).

A column holds scalars, lists (fixed-size or not, nested for more dimensions),
or a tensor extension (Arrow's ``fixed_shape_tensor``, Ray's tensor type); each
row is flattened and reshaped to the input's shape, so a 32x32x3 image may be
stored as a list of 3072 numbers. Only the row groups a range touches are read,
and the last one is kept, so consecutive batches read each row group once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from inspector.errors import InspectorError


def parquet_files(path: str) -> list[str]:
    """The data files of a Parquet input (a file, or a directory read recursively), in row order."""
    if os.path.isfile(path):
        return [path]
    files = [os.path.join(d, f) for d, dirs, fs in sorted(os.walk(path), key=lambda w: w[0])
             for f in sorted(fs) if f.endswith(".parquet") and not f.startswith(("_", "."))
             and not any(p.startswith(("_", ".")) for p in os.path.relpath(d, path).split(os.sep) if p != ".")]
    if not files:
        raise InspectorError("no .parquet files in the directory", path)
    return files


def is_parquet(path: str) -> bool:
    """A ``.parquet`` file, or a directory holding some (and no images)."""
    if os.path.isfile(path):
        return path.endswith(".parquet")
    if not os.path.isdir(path):
        return False
    for _, _, fs in os.walk(path):
        if any(f.endswith(".parquet") and not f.startswith(("_", ".")) for f in fs):
            return True
    return False


def _flat_values(arr: Any, column: str, path: str) -> tuple[np.ndarray, int]:
    """``(values, per-row count)`` of an Arrow array whose rows all hold the same number of numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if arr.null_count:
        raise InspectorError(f"column {column!r} has missing (null) values", path)
    per_row = 1
    while True:
        if isinstance(arr.type, pa.ExtensionType):
            arr = arr.storage
        elif pa.types.is_fixed_size_list(arr.type):
            per_row *= arr.type.list_size
            arr = arr.flatten()
        elif pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
            lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
            if len(lengths) and (lengths != lengths[0]).any():
                raise InspectorError(f"column {column!r}: rows hold lists of different lengths "
                                     f"({lengths.min()} to {lengths.max()})", path)
            per_row *= int(lengths[0]) if len(lengths) else 0
            arr = arr.flatten()
        else:
            break
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type)):
        raise InspectorError(f"column {column!r}: type {arr.type} is not numeric", path)
    return arr.to_numpy(zero_copy_only=False), per_row


@dataclass
class ParquetColumn:
    """One column of a Parquet input, read a row range at a time as ``(rows, *row_shape)``."""

    name: str
    column: str
    path: str
    files: list[str]
    groups: list[tuple[int, int, int]]    # (file index, row group, first row) in row order
    shape: tuple                          # (rows, *row_shape)
    dtype: np.dtype
    _cache: Any = field(default=None, repr=False)   # (group index, numpy rows) of the last row group read

    @property
    def rows(self) -> int:
        return int(self.shape[0])

    def _group(self, g: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == g:
            return self._cache[1]
        import pyarrow.parquet as pq

        fi, rg, _ = self.groups[g]
        try:
            table = pq.ParquetFile(self.files[fi]).read_row_group(rg, columns=[self.column])
        except Exception as e:   # pyarrow's ArrowInvalid / OSError on a damaged file
            raise InspectorError(f"cannot read column {self.column!r}: {str(e).splitlines()[0][:200]}",
                                 self.files[fi]) from None
        values, _ = _flat_values(table.column(0).combine_chunks(), self.column, self.files[fi])
        rows = values.reshape((table.num_rows, *self.shape[1:]))
        self._cache = (g, rows)
        return rows

    def read(self, start: int, stop: int) -> np.ndarray:
        firsts = [g[2] for g in self.groups]
        g = max(0, int(np.searchsorted(firsts, start, side="right")) - 1)
        parts = []
        while start < stop and g < len(self.groups):
            first = self.groups[g][2]
            rows = self._group(g)
            take = rows[start - first:min(stop - first, len(rows))]
            parts.append(take)
            start += len(take)
            g += 1
        if not parts:
            return np.empty((0, *self.shape[1:]), self.dtype)
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])


def open_parquet(path: str, inputs: Sequence[Any]) -> dict[str, ParquetColumn]:
    """Columns of ``path`` for the extractor's inputs (name or alias), checked against their shapes."""
    import pyarrow.parquet as pq

    files = parquet_files(path)
    groups, total, schema = [], 0, None
    for i, f in enumerate(files):
        try:
            meta = pq.ParquetFile(f)
        except Exception as e:
            raise InspectorError(f"not a readable Parquet file ({str(e).splitlines()[0][:160]})", f) from None
        if schema is None:
            schema = meta.schema_arrow
        for rg in range(meta.metadata.num_row_groups):
            groups.append((i, rg, total))
            total += meta.metadata.row_group(rg).num_rows
    names = list(schema.names)
    found = {}
    for spec in inputs:
        col = next((a for a in (spec.name, *spec.aliases) if a in names), None)
        if col is None and len(inputs) == 1 and len(names) == 1:
            col = names[0]
        if col is None:
            raise InspectorError(f"no column for input {spec.name!r} (columns: {', '.join(names)})", path)
        found[spec.name] = _column(spec, col, path, files, groups, total)
    return found


def _column(spec: Any, col: str, path: str, files: list[str], groups: list, total: int) -> ParquetColumn:
    """The column's row shape (from its first row, reshaped to the input's) and dtype."""
    import pyarrow.parquet as pq

    first = next((g for g in groups if pq.ParquetFile(files[g[0]]).metadata.row_group(g[1]).num_rows), None)
    if first is None:
        raise InspectorError("the data has no rows", path)
    table = pq.ParquetFile(files[first[0]]).read_row_group(first[1], columns=[col])
    values, per_row = _flat_values(table.column(0).combine_chunks().slice(0, 1), col, files[first[0]])
    want = tuple(spec.shape[1:])
    if None not in want and int(np.prod(want, dtype=np.int64)) == per_row:
        row_shape = want
    elif len(want) == 1:         # a sequence input of any length: this column's length
        row_shape = (per_row,)
    else:
        raise InspectorError(f"input {spec.name!r}: expected rows of shape {want}; column {col!r} holds "
                             f"{per_row} number(s) per row", path)
    return ParquetColumn(spec.name, col, path, files, groups, (total, *row_shape), values.dtype)
