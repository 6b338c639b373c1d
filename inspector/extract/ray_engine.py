"""Feature extraction on Ray Data: the same rows as :func:`inspector.extract_features`, bit for bit.

Two entry points:

* :func:`features` adds one column per requested layer to a user's own
  ``ray.data.Dataset`` (lazily, so it composes into their pipeline). Each Ray
  worker is a :class:`~inspector.extract.ray_worker.FeatureWorker` actor that
  builds the extractor once. With a ``row_id`` column (the row's index in the
  data) every row is computed where the single-process run computes it, so the
  features are identical to it.
* :func:`run` is ``inspector features --engine ray``: it checks the model and
  data in this process first (the same errors as the single-process path,
  before any cluster starts), plans the data as the single-process batch grid
  (one Ray row per batch), lets the workers read their batches themselves (the
  ``.npy``/``.npz``/image readers of :mod:`inspector.extract.datasources`, the
  Parquet reader of :mod:`inspector.extract.parquet_source`) and writes what
  comes back in row order, atomically (:mod:`inspector.extract.row_sink`).

Why the workers read rather than Ray's ``read_numpy``/``read_images``/``read_parquet``:
those give no stable row index (Ray Data does not promise row order, and
``Dataset.zip`` is deprecated for that reason), ``read_images`` decodes and
resizes with PIL where Keras uses TensorFlow (different pixels), and
``read_numpy`` loads a whole file per task. Planned reads keep each row's index,
decode images exactly as the single-process path does, and send no input data
through Ray's object store. A dataset of your own from any Ray reader goes
through :func:`features`.

Workers that die (a killed process, a lost node) are restarted by Ray and their
tasks retried (``max_restarts``/``max_task_retries``); every row is written once,
and a run missing rows writes nothing. Errors raised on a worker come back as
one :class:`InspectorError` line. Ray is imported only inside these functions.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from inspector.atomic import check_not_input, check_writable, terminate_as_exception
from inspector.errors import InspectorError
from inspector.extract.ray_cluster import (
    alive_nodes,
    check_reachable,
    cluster,
    first_line,
    quiet,
    require_ray,
    worker_cpus,
)
from inspector.extract.ray_worker import ROW_ID, FeatureWorker, build, worker_message
from inspector.extract.row_sink import check_parquet_target, open_sink

FORMATS = ("npy", "npz", "parquet")


# --------------------------------------------------------------------------- the Ray stage
def _portable(model: Any) -> Any:
    """A model reference every worker can open: paths made absolute (workers run elsewhere)."""
    if not isinstance(model, (str, os.PathLike)):
        return model                      # a live keras.Model: pickled to the workers
    s = os.fspath(model)
    if os.path.exists(s):
        return os.path.abspath(s)
    target, sep, name = s.rpartition(":")
    if sep and target.endswith(".py") and os.path.isfile(target):
        return f"{os.path.abspath(target)}:{name}"
    return s


def _stage(ds: Any, ctor: dict, rows_per_call: int, num_workers: int, num_cpus: float,
           runtime_env: dict | None) -> Any:
    """``ds.map_batches`` with a pool of ``num_workers`` restartable :class:`FeatureWorker` actors."""
    import ray

    if num_workers < 1:
        raise InspectorError(f"number of workers must be >= 1, got {num_workers}")
    kw: dict[str, Any] = dict(fn_constructor_kwargs=ctor, batch_size=rows_per_call, batch_format="numpy",
                              compute=ray.data.ActorPoolStrategy(size=num_workers), num_cpus=num_cpus)
    if runtime_env:
        kw["runtime_env"] = runtime_env
    with warnings.catch_warnings():
        # Ray >= 2.51 calls remote args passed this way deprecated (and defaults them as we do);
        # older versions need them: a killed worker is restarted and its tasks retried.
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.map_batches(FeatureWorker, max_restarts=-1, max_task_retries=-1, **kw)


def features(dataset: Any, model: Any, layers: Sequence[Any] | str | int, *, batch_size: int = 32,
             num_workers: int = 1, column_map: dict[str, str] | None = None, id_column: str = ROW_ID,
             num_cpus: float | None = None, unsafe: bool = False, input_specs: Any = None,
             args: Sequence[str] = (), runtime_env: dict | None = None) -> Any:
    """``dataset`` plus one column per requested layer (``KEY#i`` for a layer with several outputs).

    ``model`` is a model file, a ``file.py:NAME`` spec (both opened by each
    worker, so they must be readable there) or a ``keras.Model`` (pickled to the
    workers). Inputs come from the columns named after the extractor's inputs
    (``column_map={input: column}`` otherwise; a single-input extractor takes a
    dataset's only column, e.g. ``ray.data.from_numpy``'s ``data``). All other
    columns pass through. With an ``id_column`` (each row's index in the data)
    the values equal ``inspector.extract_features`` with the same ``batch_size``
    bit for bit; without one they equal Keras's ``predict`` to float rounding.
    ``num_cpus`` per worker defaults to at most 1, leaving one CPU of the cluster
    for the tasks reading ``dataset``. Nothing runs until the dataset is consumed;
    errors raised on a worker then surface as Ray errors, which
    :func:`as_inspector_error` turns into one line.
    """
    require_ray()
    if batch_size < 1:
        raise InspectorError(f"batch size must be >= 1, got {batch_size}")
    ctor = dict(model=_portable(model), layers=layers, batch_size=batch_size,
                options=dict(unsafe=unsafe, input_specs=input_specs, args=tuple(args)),
                column_map=column_map, id_column=id_column)
    cpus = num_cpus if num_cpus is not None else worker_cpus(num_workers, leave=1.0)
    return _stage(dataset, ctor, batch_size, num_workers, cpus, runtime_env)


def as_inspector_error(error: BaseException) -> InspectorError | None:
    """The :class:`InspectorError` a Ray error from a feature worker stands for (None if not one of ours)."""
    msg = worker_message(error)
    return InspectorError(msg) if msg else None


# --------------------------------------------------------------------------- the CLI path
@dataclass
class RayRunResult:
    """What a :func:`run` wrote, and where its time went (start-up vs work), for the CLI's report line."""

    path: str
    rows: int
    outputs: dict[str, tuple]         # key -> full output shape
    seconds: float                    # whole run, cluster start included
    startup_seconds: float            # starting or joining Ray (0 if it was running)
    first_batch_seconds: float        # from submitting to the first rows back (workers building the model)
    num_workers: int
    duplicates: int = 0               # rows delivered twice by retried tasks (each written once)
    files: list[str] | None = None    # image inputs: the file of each row (also in OUT.files.txt)


def output_format(out: str, fmt: str | None) -> str:
    """``npy``/``npz`` from the suffix, or ``parquet`` (given, or ``.parquet`` / a trailing slash)."""
    if fmt is None:
        s = os.fspath(out)
        fmt = ("npy" if s.endswith(".npy") else "npz" if s.endswith(".npz")
               else "parquet" if s.endswith((".parquet", "/", os.sep)) else None)
        if fmt is None:
            raise InspectorError("output must end in .npy or .npz, or be a directory for --format parquet", out)
    if fmt not in FORMATS:
        raise InspectorError(f"unknown output format {fmt!r} (expected {', '.join(FORMATS)})", out)
    if fmt in ("npy", "npz") and not str(out).endswith("." + fmt):
        raise InspectorError(f"a {fmt} output must end in .{fmt}", out)
    return fmt


def _sources(info: Any, data: str) -> dict[str, Any]:
    from inspector.extract.parquet_source import is_parquet, open_parquet

    if is_parquet(data):
        return open_parquet(data, info.inputs)
    from inspector.extract.datasources import match_inputs

    return match_inputs(SimpleNamespace(inputs=info.inputs), data)


def _check_paths(model: Any, data: str, out: str, fmt: str) -> None:
    model_path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    check_not_input(out, data, what="input data")
    check_not_input(out, *([model_path] if model_path else []))
    if fmt == "parquet":
        check_parquet_target(out)
    else:
        check_writable(out)
    if not os.path.exists(data):
        raise InspectorError("no such file or directory", data)


def run(model: Any, layers: Sequence[Any] | str | int, data: str, out: str, *, fmt: str | None = None,
        batch_size: int = 32, num_workers: int | None = None, address: str | None = None,
        num_cpus: float | None = None, unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = (),
        runtime_env: dict | None = None, progress: Callable[[int, int], None] | None = None) -> RayRunResult:
    """``inspector features --engine ray``: ``data`` (.npy/.npz/image dir/Parquet) -> ``out``.

    ``out`` is ``.npy``/``.npz`` (input row order, equal bit for bit to
    :func:`inspector.extract_features` with the same ``batch_size``) or, with
    ``fmt="parquet"``, a new directory of Parquet files with a ``row_id`` column.
    ``num_workers`` defaults to one per node of the cluster; ``progress(done,
    total)`` is called after each batch arrives.
    """
    data, out = os.path.abspath(os.fspath(data)), os.fspath(out)
    fmt = output_format(out, fmt)
    if batch_size < 1:
        raise InspectorError(f"batch size must be >= 1, got {batch_size}")
    t0 = time.perf_counter()
    require_ray()
    _check_paths(model, data, out, fmt)
    check_reachable(address)
    portable = _portable(model)
    options = dict(unsafe=unsafe, input_specs=input_specs, args=tuple(args))
    _, info = build(portable, layers, options)          # the single-process path's checks, before any cluster
    if fmt == "npy" and len(info.keys) != 1:
        raise InspectorError(f"{len(info.keys)} outputs ({', '.join(info.keys)}) need an .npz output", out)
    sources = _sources(info, data)
    total = next(iter(sources.values())).rows
    if total == 0:
        raise InspectorError("the data has no rows", data)
    batch = min(batch_size, total)     # as the single-process path: one grid for every run of this data
    plan = [{"start": a, "stop": min(a + batch, total)} for a in range(0, total, batch)]
    with terminate_as_exception(), cluster(address) as startup, quiet():
        import ray

        workers = min(num_workers or alive_nodes(), len(plan))   # more would have nothing to do
        cpus = num_cpus if num_cpus is not None else worker_cpus(workers, leave=0.0)
        ctor = dict(model=portable, layers=layers, batch_size=batch, options=options, sources=sources)
        ds = _stage(ray.data.from_items(plan, override_num_blocks=min(len(plan), 4096)), ctor, 1, workers, cpus,
                    runtime_env)
        submitted, first = time.perf_counter(), None
        with open_sink(out, fmt, total, info.keys) as sink:
            try:
                for block in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    first = first or time.perf_counter() - submitted
                    sink.write(block[ROW_ID], block)
                    if progress is not None:
                        progress(sink.rows, total)
            except Exception as e:
                ours = as_inspector_error(e)
                if ours is None and not isinstance(e, ray.exceptions.RayError) \
                        and not type(e).__module__.startswith("ray."):
                    raise                     # not Ray's and not a worker's: a bug here, with its traceback
                raise ours or InspectorError(f"the Ray run failed: {first_line(e)}") from None
    files = _write_file_list(sources, data, out)
    return RayRunResult(out, total, sink.shapes, time.perf_counter() - t0, startup, first or 0.0, workers,
                        sink.duplicates, files)


def _write_file_list(sources: dict[str, Any], data: str, out: str) -> list[str] | None:
    """Image inputs: which file each row is, in ``OUT.files.txt`` (as the single-process path writes it)."""
    from inspector.extract.datasources import ImageSource

    src = next(iter(sources.values()))
    if not isinstance(src, ImageSource):
        return None
    from inspector.atomic import write_text

    files = [os.path.relpath(f, data) for f in src.files]
    write_text(out.rstrip("/" + os.sep) + ".files.txt", "".join(f + "\n" for f in files))
    return files
