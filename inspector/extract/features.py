"""Running a feature extractor over data files, with memory bounded by the batch.

Input: a ``.npy`` array, an ``.npz`` of arrays named after the extractor's inputs,
or a directory of images (decoded and resized to the input's height and width).
Arrays are read batch by batch with ``pread`` (never mapped or loaded whole), and
each output batch is written through a memory map of just that batch's rows, so
the process's resident memory depends on the batch size, not the data size.

The output is written under a temporary name in the target directory and
renamed at the end: an interrupted run leaves no partial output file.
``shard=(k, n)`` processes the k-th of n contiguous row ranges (k counts from
0) and writes ``OUT-0000k-of-0000n.npy`` so independent workers can split a data
set; :func:`merge_parts` (or ``np.concatenate``) puts the parts back together.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from inspector.atomic import atomic_path, cannot_write, check_not_input, check_writable
from inspector.errors import InspectorError
from inspector.extract.datasources import (  # noqa: F401  (re-exported)
    IMAGE_SUFFIXES,
    ArraySource,
    ImageSource,
    match_inputs,
    open_arrays,
    open_images,
)


# --------------------------------------------------------------------------- writers
class NpyWriter:
    """An ``.npy`` file filled batch by batch through a memory map of just that batch's rows.

    Mapping only the rows being written (and unmapping after each batch) keeps the
    written pages out of the process's resident set; a whole-file map would count
    every page touched so far.
    """

    def __init__(self, path: str, rows: int, row_shape: tuple, dtype: np.dtype):
        self.path, self.rows, self.row_shape, self.dtype = path, rows, tuple(row_shape), np.dtype(dtype)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=(rows, *self.row_shape))
        del mm
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.offset = os.path.getsize(path) - rows * self.row_bytes

    def write(self, row: int, values: np.ndarray) -> None:
        n = len(values)
        if n == 0 or self.row_bytes == 0:
            return
        mm = np.memmap(self.path, dtype=self.dtype, mode="r+", offset=self.offset + row * self.row_bytes,
                       shape=(n, *self.row_shape))
        mm[:] = values
        mm.flush()
        del mm


@contextlib.contextmanager
def output_files(out: str, keys: Sequence[str]) -> Iterator[dict[str, str]]:
    """Temp ``.npy`` paths, one per output key, turned into ``out`` (``.npy``/``.npz``) atomically."""
    directory = os.path.dirname(os.path.abspath(out))
    with atomic_path(out) as final_tmp:
        if out.endswith(".npy"):
            yield {keys[0]: final_tmp}
            return
        parts = {}
        try:
            for k in keys:
                try:
                    fd, parts[k] = tempfile.mkstemp(prefix=".tmp-part-", suffix=".npy", dir=directory)
                except OSError as e:
                    raise cannot_write(e, out) from None
                os.close(fd)
            yield parts
            with zipfile.ZipFile(final_tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                for k, p in parts.items():
                    z.write(p, f"{k}.npy")
        finally:
            for p in parts.values():
                with contextlib.suppress(OSError):
                    os.unlink(p)


# --------------------------------------------------------------------------- shards
def parse_shard(shard: Any) -> tuple[int, int] | None:
    """``"K/N"`` or ``(K, N)`` -> ``(K, N)`` with 0 <= K < N."""
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise InspectorError(f"bad shard {shard!r}: expected K/N, e.g. 0/4 (K counts from 0)")
        shard = (int(m.group(1)), int(m.group(2)))
    k, n = shard
    if n < 1 or not 0 <= k < n:
        raise InspectorError(f"bad shard {k}/{n}: need N >= 1 and 0 <= K < N (K counts from 0)")
    return int(k), int(n)


def shard_rows(rows: int, k: int, n: int) -> tuple[int, int]:
    """Row range [start, stop) of the k-th of n contiguous, near-equal slices."""
    return rows * k // n, rows * (k + 1) // n


def part_path(out: str, k: int, n: int) -> str:
    """``feats.npy`` -> ``feats-00001-of-00004.npy``: sorts in shard order, names its total."""
    stem, ext = os.path.splitext(out)
    width = max(5, len(str(n)))
    return f"{stem}-{k:0{width}d}-of-{n:0{width}d}{ext}"


def merge_parts(parts: Sequence[str], out: str, batch_rows: int = 4096) -> str:
    """Concatenate part files (``.npy`` or ``.npz``, in the given order) into ``out``, batch by batch."""
    if not parts:
        raise InspectorError("no part files to merge")
    opened = [open_arrays(p) for p in parts]
    keys = list(opened[0])
    for p, arrays in zip(parts, opened):
        if list(arrays) != keys or any(arrays[k].shape[1:] != opened[0][k].shape[1:] for k in keys):
            raise InspectorError("part does not match the first part's arrays/shapes", p)
    check_not_input(out, *parts)
    if out.endswith(".npy") and len(keys) > 1:
        raise InspectorError(f"parts hold {len(keys)} arrays ({', '.join(keys)}); merge them into an .npz", out)
    with output_files(out, [k or "features" for k in keys]) as files:
        for k, path in zip(keys, files.values()):
            first = opened[0][k]
            w = NpyWriter(path, sum(a[k].rows for a in opened), first.shape[1:], first.dtype)
            row = 0
            for arrays in opened:
                src = arrays[k]
                for s in range(0, src.rows, batch_rows):
                    chunk = src.read(s, min(s + batch_rows, src.rows))
                    w.write(row, chunk)
                    row += len(chunk)
    return out


# --------------------------------------------------------------------------- runner
def _looks_like_spec(data: str) -> bool:
    """``inputs=3`` or ``x=32,32,3:int32``: a --spec given where the data path goes."""
    return bool(re.fullmatch(r"[A-Za-z_]\w*=[\d,\s()?None-]+(:\w+)?", data))


@dataclass
class FeaturesResult:
    path: str
    rows: int
    start: int
    outputs: dict[str, tuple]
    seconds: float
    files: list[str] | None = None     # image inputs: the file of each row (also in OUT.files.txt)


def flatten_outputs(keys: Sequence[str], out: Any) -> dict[str, np.ndarray]:
    """Extractor outputs as ``{key: array}``; a multi-output layer's arrays as ``KEY#i``."""
    items = [(keys[0], out)] if len(keys) == 1 else [(k, out[k]) for k in keys]
    flat = {}
    for k, v in items:
        if isinstance(v, (list, tuple)):
            flat.update({f"{k}#{i}": np.asarray(x) for i, x in enumerate(v)})
        else:
            flat[k] = np.asarray(v)
    return flat


def _progress(enabled: bool, total: int, label: str) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s")

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RowsPerSecond(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


def _target(model_or_path: Any, data: str, out: Any, batch_size: int, shard: Any
            ) -> tuple[str, tuple[int, int] | None]:
    """The file this run writes (and its shard), after every check that needs no model."""
    if batch_size < 1:
        raise InspectorError(f"batch size must be >= 1, got {batch_size}")
    if not str(out).endswith((".npy", ".npz")):
        raise InspectorError("output must end in .npy or .npz", out)
    sh = parse_shard(shard)
    target = part_path(out, *sh) if sh else os.fspath(out)
    model_path = os.fspath(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else None
    check_not_input(target, data, what="input data")
    check_not_input(target, *([model_path] if model_path else []))
    check_writable(target)
    if not os.path.exists(data):
        hint = f"; did you mean --spec {data}? (--input is the data here)" if _looks_like_spec(data) else ""
        raise InspectorError(f"no such file or directory{hint}", data)
    return target, sh


@dataclass
class _Batches:
    """Reads and runs batches on one global grid: multiples of ``size`` from row 0, padded to full size.

    One compiled shape, and every row is computed at the same place in the same batch shape
    whether or not the data is sharded, so parts concatenate bit-identically.
    """

    ext: Any                        # Extraction
    sources: dict[str, Any]
    size: int
    data: str

    def ranges(self, start: int, stop: int) -> list[tuple[int, int]]:
        edges = sorted({start, stop, *range(-(-start // self.size) * self.size, stop, self.size)})
        return list(zip(edges[:-1], edges[1:]))

    def read(self, a: int, b: int) -> dict[str, np.ndarray]:
        arrays = {}
        for s_name, src in self.sources.items():
            spec = next((s for s in self.ext.inputs if s.name == s_name), None)
            arr = src.read(a, b)
            if b - a < self.size:
                front = a % self.size
                arr = np.pad(arr, ((front, self.size - front - (b - a)),) + ((0, 0),) * (arr.ndim - 1))
            arrays[s_name] = np.asarray(arr, dtype=spec.dtype if spec else None)
        return arrays

    def run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return flatten_outputs(self.ext.keys, self.ext.model.predict_on_batch(self.ext.feed(arrays)))
        except InspectorError:
            raise
        except (ValueError, TypeError, KeyError) as e:
            raise InspectorError(f"the model failed on the data: {str(e).splitlines()[0][:200]}", self.data) from None


def _write_batches(batches: _Batches, target: str, start: int, stop: int, progress: bool) -> dict[str, tuple]:
    """Run rows [start, stop) into ``target``, reading two batches ahead; returns the output shapes."""
    ranges = batches.ranges(start, stop)
    with ThreadPoolExecutor(1) as pool:
        futures: dict[int, Any] = {}

        def prefetch(i: int) -> None:   # keep two batches read ahead while the model runs
            if i < len(ranges) and i not in futures:
                futures[i] = pool.submit(batches.read, *ranges[i])

        prefetch(0)
        prefetch(1)
        # an empty shard still runs one row, only to learn the output shapes
        first = batches.run(futures.pop(0).result() if ranges else batches.read(0, 1))
        keys = list(first)
        if target.endswith(".npy") and len(keys) != 1:
            raise InspectorError(f"{len(keys)} outputs ({', '.join(keys)}) need an .npz output", target)
        with output_files(target, keys) as files, _progress(progress, stop - start, "features") as bar:
            task = bar.add_task("features", total=stop - start)
            writers = {k: NpyWriter(files[k], stop - start, v.shape[1:], v.dtype) for k, v in first.items()}
            for i, (a, b) in enumerate(ranges):
                prefetch(i + 2)
                outs = batches.run(futures.pop(i).result()) if i else first
                for k, v in outs.items():
                    writers[k].write(a - start, v[a % batches.size:a % batches.size + b - a])
                bar.advance(task, b - a)
    return {k: (stop - start, *v.shape[1:]) for k, v in first.items()}


def _row_files(sources: dict[str, Any], data: str, target: str, start: int, stop: int) -> list[str] | None:
    """Image inputs: which image each row is, written beside the output (``OUT.files.txt``)."""
    src = next(iter(sources.values()))
    if not isinstance(src, ImageSource):
        return None
    from inspector.atomic import write_text

    row_files = [os.path.relpath(f, data) for f in src.files[start:stop]]
    write_text(target + ".files.txt", "".join(f + "\n" for f in row_files))
    return row_files


def extract_features(model_or_path: Any, layers: Sequence[Any] | str | int, data: str, out: str, *,
                     batch_size: int = 32, shard: Any = None, progress: bool = False, unsafe: bool = False,
                     input_specs: Any = None, args: Sequence[str] = ()) -> FeaturesResult:
    """Run the extractor for ``layers`` over ``data`` and write ``out`` (``.npy`` or ``.npz``).

    One output array goes to ``.npy`` (or ``.npz``); several need ``.npz``
    (members named after the layers). With ``shard`` the output is the part file
    :func:`part_path` names, holding that shard's rows only. A model file is read
    statically once (layer names checked before TensorFlow starts) and loaded by Keras once.
    """
    from inspector.extract.submodel import build_extractor

    data = os.fspath(data)
    target, sh = _target(model_or_path, data, out, batch_size, shard)
    ext = build_extractor(model_or_path, layers, unsafe=unsafe, input_specs=input_specs, args=args)
    sources = match_inputs(ext, data)
    total = next(iter(sources.values())).rows
    if total == 0:
        raise InspectorError("the data has no rows", data)
    start, stop = shard_rows(total, *sh) if sh else (0, total)
    # Memory follows the data, not -b: a batch never exceeds the data's rows. Capped at all rows,
    # not the shard's, so every shard keeps the single run's batch grid (parts stay bit-identical).
    batches = _Batches(ext, sources, min(batch_size, total), data)
    t0 = time.perf_counter()
    shapes = _write_batches(batches, target, start, stop, progress)
    row_files = _row_files(sources, data, target, start, stop)
    return FeaturesResult(target, stop - start, start, shapes, time.perf_counter() - t0, row_files)
