"""Shared benchmark helpers: model generation, whole-process timing, result tables.

Every benchmark compares the inspector against Keras *in the same run* and
prints ratios, so results hold on a noisy or slower machine.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("BENCH_CACHE", os.path.join(ROOT, "bench", ".cache"))
PY = sys.executable
INSPECTOR = [PY, "-c", "import sys; sys.argv[0] = 'inspector'; from cli import main; main()"]


def run_deep(fn: Callable[[], None]) -> None:
    """Run ``fn`` with a large recursion limit and stack: Keras recurses per layer when saving."""
    sys.setrecursionlimit(200_000)
    threading.stack_size(1024 * 1024 * 1024)
    err: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as e:  # re-raised in the caller
            err.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if err:
        raise err[0]


def residual_mlp(n_layers: int, width: int = 16):
    """A generated residual MLP of about ``n_layers`` layers (Dense + Add pairs)."""
    import keras
    from keras import layers

    i = keras.Input((width,), name="x")
    x = i
    for _ in range(n_layers // 2):
        x = layers.Add()([x, layers.Dense(width)(x)])
    return keras.Model(i, x, name=f"residual_mlp_{n_layers}")


def ensure_model(name: str, build: Callable[[], object]) -> str:
    """Build and save a model once into the cache; returns its path."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}.keras")
    if not os.path.exists(path):
        print(f"  building {name} ...", file=sys.stderr, flush=True)
        tmp = path + ".tmp.keras"

        def go() -> None:
            model = build()
            model.save(tmp)

        run_deep(go)
        os.replace(tmp, path)
    return path


def time_process(cmd: list[str], runs: int = 3, env: dict | None = None) -> dict:
    """Whole-process wall time and peak RSS (KB) of ``cmd``, ``runs`` times after one warm-up."""
    walls, rss = [], []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])}... failed with exit code {p.returncode}")
        if i:
            walls.append(wall)
            rss.append(usage.ru_maxrss)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls), "rss_kb": max(rss)}


def keras_env() -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return env


def table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join(out)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {sys.version.split()[0]}"
