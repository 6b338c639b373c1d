"""The Ray cluster a feature run uses: started, joined or found, sized, and kept quiet.

Kept apart from :mod:`inspector.extract.ray_engine` (what runs on it). Ray is
imported inside the functions only.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import warnings
from typing import Any, Iterator

from inspector.errors import InspectorError, one_line


@contextlib.contextmanager
def cluster(address: str | None = None, num_cpus: int | None = None) -> Iterator[float]:
    """Ray for one run; yields the seconds it took to start or join.

    Already initialised (a notebook, a test): used as it is. No ``address``: a
    local cluster with this machine's CPUs and no dashboard, shut down at the
    end. ``address`` (``auto``, ``HOST:PORT``, ``ray://...``): joined, and left
    running (only this process disconnects).
    """
    import ray

    if ray.is_initialized():
        yield 0.0
        return
    kw: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR)
    if address is None:
        kw.update(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
    else:
        kw["address"] = address
    t0 = time.perf_counter()
    # ray.init makes SIGTERM a bare sys.exit; the caller's handler (inspector.atomic's clean exit) is kept
    main = threading.current_thread() is threading.main_thread()
    term = signal.getsignal(signal.SIGTERM) if main else None
    try:
        ray.init(**kw)
    except Exception as e:   # ConnectionError, RuntimeError, ValueError: all "no cluster there"
        where = f"join the Ray cluster at {address}" if address else "start a local Ray cluster"
        raise InspectorError(f"cannot {where}: {first_line(e)}") from None
    finally:
        if term is not None:
            signal.signal(signal.SIGTERM, term)
    try:
        yield time.perf_counter() - t0
    finally:
        ray.shutdown()


def check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """Fail at once when nothing answers at a ``HOST:PORT`` / ``ray://HOST:PORT`` address.

    ``ray.init`` would retry an unreachable address for minutes, printing a warning
    every few seconds; ``auto`` (found through local files) fails fast by itself.
    """
    if not address or address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    if not port.isdigit():
        return
    try:
        socket.create_connection((host or "localhost", int(port)), timeout=timeout).close()
    except OSError as e:
        raise InspectorError(f"cannot join the Ray cluster at {address}: nothing answers there "
                             f"({(e.strerror or type(e).__name__).lower()})") from None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No Ray Data progress bars, INFO logs or warnings on the user's terminal for one run (restored after)."""
    import ray

    ctx = ray.data.DataContext.get_current()
    saved = {a: getattr(ctx, a) for a in ("enable_progress_bars", "print_on_execution_start") if hasattr(ctx, a)}
    loggers = [logging.getLogger(n) for n in ("ray", "ray.data")]
    levels = [lg.level for lg in loggers]
    for a in saved:
        setattr(ctx, a, False)
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():   # Ray's advice on tuning and its deprecations are not the user's
            warnings.filterwarnings("ignore", module=r"ray(\.|$)")
            yield
    finally:
        for a, v in saved.items():
            setattr(ctx, a, v)
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def require_ray() -> Any:
    """The ``ray`` module, or an error saying how to install it (it is an optional extra)."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise InspectorError(f"the Ray engine needs Ray Data ({first_line(e)}): "
                             "pip install 'keras-graph-inspector[ray]' (or 'ray[data]')") from None
    return ray


def alive_nodes() -> int:
    """Nodes of the cluster with CPUs: the default number of workers (one per node)."""
    import ray

    return max(1, sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0))


def worker_cpus(num_workers: int, leave: float) -> float:
    """CPUs each worker reserves: at most 1 (TensorFlow threads anyway), leaving ``leave`` for upstream tasks."""
    import ray

    if not ray.is_initialized():
        return 1.0
    total = float(ray.cluster_resources().get("CPU", 1.0))
    return max(0.1, min(1.0, (total - leave) / max(1, num_workers)))


def first_line(e: BaseException) -> str:
    """An exception as one short line for an error message: its type and first line."""
    text = str(e).strip()
    return one_line(f"{type(e).__name__}: {text.splitlines()[0] if text else ''}", 300)
