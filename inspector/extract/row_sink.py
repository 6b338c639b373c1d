"""Feature rows arriving in any order (from Ray workers), written complete or not at all.

``.npy`` / ``.npz``: each batch goes to its rows' positions through a memory map
of just those rows, so the file is in input row order whatever order the
workers finish in, and memory follows the batch. A Parquet directory gets the
batches as they come, with a ``row_id`` column (sort by it for input order).

Everything is written under a temporary name beside the target and renamed
at the end, and only when every row arrived exactly once: a killed or
interrupted run, or one that lost rows, leaves no output. A row delivered twice
(a retried task whose first result also arrived) is written once.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from typing import Iterator, Sequence

import numpy as np

from inspector.atomic import atomic_path, cannot_write, terminate_as_exception
from inspector.errors import InspectorError

#: Rows per Parquet file of the output directory.
PARQUET_FILE_ROWS = 1_000_000


class _NpyRows:
    """An ``.npy`` of ``rows`` rows, filled by row ranges through short-lived memory maps."""

    def __init__(self, path: str, rows: int, row_shape: tuple, dtype: np.dtype):
        self.path, self.row_shape, self.dtype = path, tuple(row_shape), np.dtype(dtype)
        del_me = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=(rows, *self.row_shape))
        del del_me
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.offset = os.path.getsize(path) - rows * self.row_bytes

    def write(self, first: int, values: np.ndarray) -> None:
        if len(values) == 0 or self.row_bytes == 0:
            return
        mm = np.memmap(self.path, dtype=self.dtype, mode="r+", offset=self.offset + first * self.row_bytes,
                       shape=(len(values), *self.row_shape))
        mm[:] = values
        mm.flush()
        del mm


def _runs(ids: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(i, j)`` index ranges of ``ids`` (sorted) holding consecutive row ids."""
    breaks = np.nonzero(np.diff(ids) != 1)[0] + 1
    edges = [0, *breaks.tolist(), len(ids)]
    return zip(edges[:-1], edges[1:])


class RowSink:
    """Collects ``(row ids, {key: rows})`` batches for one output; see the module docstring."""

    def __init__(self, out: str, fmt: str, total: int, keys: Sequence[str]):
        self.out, self.fmt, self.total, self.keys = out, fmt, total, list(keys)
        self.seen = np.zeros(total, dtype=bool)
        self.rows = 0                            # distinct rows written so far
        self.duplicates = 0
        self.shapes: dict[str, tuple] = {}
        self._files: dict[str, str] = {}         # key -> temp .npy
        self._writers: dict[str, _NpyRows] = {}
        self._dir: str | None = None             # Parquet: temp directory
        self._pq = None                          # Parquet: open writer
        self._pq_rows = 0
        self._pq_count = 0

    def write(self, ids: np.ndarray, columns: dict[str, np.ndarray]) -> int:
        """Write a batch; returns how many of its rows were new."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.total):
            raise InspectorError(f"a worker returned row ids outside 0..{self.total - 1}")
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        keep = ~self.seen[ids]
        keep[1:] &= ids[1:] != ids[:-1]
        self.duplicates += int(len(ids) - keep.sum())
        ids = ids[keep]
        if not len(ids):
            return 0
        cols = {k: np.asarray(columns[k])[order][keep] for k in self.keys}
        if not self.shapes:
            self.shapes = {k: (self.total, *v.shape[1:]) for k, v in cols.items()}
        if self.fmt == "parquet":
            self._write_parquet(ids, cols)
        else:
            self._write_npy(ids, cols)
        self.seen[ids] = True
        self.rows += len(ids)
        return len(ids)

    def _write_npy(self, ids: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        for k, v in cols.items():
            if k not in self._writers:
                self._writers[k] = _NpyRows(self._files[k], self.total, v.shape[1:], v.dtype)
            for i, j in _runs(ids):
                self._writers[k].write(int(ids[i]), v[i:j])

    def _write_parquet(self, ids: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"row_id": pa.array(ids), **{k: _arrow_column(v) for k, v in cols.items()}})
        if self._pq is not None and self._pq_rows >= PARQUET_FILE_ROWS:
            self._pq.close()
            self._pq = None
        if self._pq is None:
            name = os.path.join(self._dir, f"part-{self._pq_count:05d}.parquet")
            self._pq = pq.ParquetWriter(name, table.schema)
            self._pq_count += 1
            self._pq_rows = 0
        self._pq.write_table(table)
        self._pq_rows += len(ids)

    def check_complete(self) -> None:
        missing = self.total - self.rows
        if missing:
            first = int(np.argmin(self.seen))
            raise InspectorError(f"{missing} of {self.total} rows never came back from the workers "
                                 f"(first: row {first}); nothing was written", self.out)


def _arrow_column(v: np.ndarray):
    """A feature array as an Arrow column: scalars, fixed-size lists (vectors) or fixed-shape tensors."""
    import pyarrow as pa

    if v.ndim == 1:
        return pa.array(v)
    if v.ndim == 2:
        return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1])
    return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(v))


@contextlib.contextmanager
def open_sink(out: str, fmt: str, total: int, keys: Sequence[str]) -> Iterator[RowSink]:
    """A :class:`RowSink` for ``out`` (``npy``, ``npz`` or ``parquet``); the output appears only on success."""
    sink = RowSink(out, fmt, total, keys)
    if fmt == "parquet":
        with _temp_dir(out) as d:
            sink._dir = d
            try:
                yield sink
                sink.check_complete()
            finally:
                if sink._pq is not None:
                    sink._pq.close()
        return
    directory = os.path.dirname(os.path.abspath(out))
    with atomic_path(out) as final_tmp:
        if fmt == "npy":
            sink._files = {keys[0]: final_tmp}
            yield sink
            sink.check_complete()
            return
        try:
            for k in keys:
                try:
                    fd, sink._files[k] = tempfile.mkstemp(prefix=".tmp-part-", suffix=".npy", dir=directory)
                except OSError as e:
                    raise cannot_write(e, out) from None
                os.close(fd)
            yield sink
            sink.check_complete()
            with zipfile.ZipFile(final_tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                for k, p in sink._files.items():
                    z.write(p, f"{k}.npy")
        finally:
            for p in sink._files.values():
                with contextlib.suppress(OSError):
                    os.unlink(p)


def check_parquet_target(out: str) -> None:
    """A Parquet output is a directory that does not exist yet (or is empty), in an existing directory."""
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise InspectorError("output directory does not exist", out)
    if os.path.exists(out) and not (os.path.isdir(out) and not os.listdir(out)):
        raise InspectorError("a Parquet output is a new directory, and this path already exists "
                             "(remove it or choose another)", out)


@contextlib.contextmanager
def _temp_dir(out: str) -> Iterator[str]:
    """A temp directory beside ``out``, renamed to ``out`` on success and removed otherwise."""
    check_parquet_target(out)
    parent = os.path.dirname(os.path.abspath(out))
    with terminate_as_exception():
        try:
            tmp = tempfile.mkdtemp(prefix=".tmp-", suffix="-" + os.path.basename(os.path.abspath(out)), dir=parent)
        except OSError as e:
            raise cannot_write(e, out) from None
        try:
            yield tmp
            if os.path.isdir(out):
                os.rmdir(out)        # empty (checked above); rename cannot replace a directory otherwise
            os.rename(tmp, out)
            os.chmod(out, 0o777 & ~_umask())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
