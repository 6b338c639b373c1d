"""Shared benchmark helpers: model generation, whole-process timing, result tables.

Every benchmark compares the inspector against Keras *in the same run* and
prints ratios, so results hold on a noisy or slower machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from typing import Any, Callable

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


#: The start of a measuring ``python -c`` child (``sys.argv[1]`` = the repository root): quiet
#: TensorFlow, the repository importable, and ``peak_mb()``: peak RSS from /proc/self/status
#: (VmHWM), not ru_maxrss, since a child's ru_maxrss starts at its parent's peak.
CHILD_PRELUDE = r"""
import json, os, resource, sys, time
def peak_mb():
    try:
        return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[1])
"""


def keras_child(body: str) -> str:
    """Source of a ``python -c`` child running ``body`` (which reads ``sys.argv``) under
    :func:`run_deep`, as the Keras baselines need for models deeper than ~1,000 layers."""
    bench = os.path.dirname(os.path.abspath(__file__))
    return (f"import os, sys\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nsys.path.insert(0, {bench!r})\n"
            "from common import run_deep\n\ndef go():\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
            + "\n\nrun_deep(go)\n")


def residual_mlp(n_layers: int, width: int = 16):
    """A generated residual MLP of about ``n_layers`` layers (Dense + Add pairs)."""
    import keras
    from keras import layers

    i = keras.Input((width,), name="x")
    x = i
    for _ in range(n_layers // 2):
        x = layers.Add()([x, layers.Dense(width)(x)])
    return keras.Model(i, x, name=f"residual_mlp_{n_layers}")


def ensure_model(name: str, build: Callable[[], object], cache: str | None = None) -> str:
    """Build and save a model once into the cache; returns its path.

    The build runs in a forked child, so this process never imports Keras: a child
    started later inherits its parent's peak RSS as its own ``ru_maxrss`` floor, which
    would otherwise spoil every peak-memory figure measured after a build.
    """
    cache = cache or CACHE
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"{name}.keras")
    if not os.path.exists(path):
        print(f"  building {name} ...", file=sys.stderr, flush=True)
        tmp = path + ".tmp.keras"

        def go() -> None:
            model = build()
            model.save(tmp)

        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child: build, save, exit without running the parent's cleanup
            code = 1
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            try:
                run_deep(go)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise RuntimeError(f"building {name} failed (exit status {os.waitstatus_to_exitcode(status)})")
        os.replace(tmp, path)
    return path


def time_process(cmd: list[str], runs: int = 3, env: dict | None = None, warmup: int = 1) -> dict:
    """Whole-process wall time and peak RSS (KB) of ``cmd``, ``runs`` times after ``warmup`` warm-ups.

    A child's ``ru_maxrss`` starts at its parent's peak (see ``ensure_model``): when the
    measured peak is not above this process's own, ``rss_kb`` is only an upper bound and
    ``rss_upper_bound`` is True.
    """
    walls, rss = [], []
    for i in range(runs + warmup):
        with tempfile.TemporaryFile() as err:  # a file, not a pipe: nothing to drain while timing
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
                raise RuntimeError(f"{' '.join(cmd[-3:])}: exit code {p.returncode}: {tail[0][:300]}")
        if i >= warmup:
            walls.append(wall)
            rss.append(usage.ru_maxrss)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = max(rss)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "rss_kb": max(peak, floor), "rss_upper_bound": peak <= floor, "runs": runs}


def timed(cmd: list[str], runs: int, warmup: int = 1) -> dict | None:
    """``time_process`` with the Keras environment; None (and a note on stderr) if the command fails."""
    try:
        return time_process(cmd, runs, env=keras_env(), warmup=warmup)
    except RuntimeError as e:
        print(f"    failed: {e}", file=sys.stderr)
        return None


def fmt(t: dict | None) -> str:
    """Median seconds of a ``time_process`` result, or "failed"."""
    return "failed" if t is None else f"{t['median']:.2f}"


def mb(t: dict | None) -> str:
    """Peak RSS in MB of a ``time_process`` result, or "-"."""
    if t is None or t.get("rss_kb") is None:
        return "-"
    return f"{'<=' if t.get('rss_upper_bound') else ''}{t['rss_kb'] / 1024:.0f}"


def result(benchmark: str, model: str, baseline: str | None, base: dict | None, ours_name: str,
           ours: dict | None, **extra: Any) -> dict:
    """One machine-readable result row: a baseline and ours, each median/min/max seconds and peak RSS.

    ``base``/``ours`` are ``time_process``-shaped dicts (or None: not measured or failed);
    ``ratio`` is baseline median / ours median (> 1: ours is faster).
    """
    row: dict[str, Any] = {"benchmark": benchmark, "model": model, "baseline": baseline, "ours": ours_name}
    for side, t in (("baseline", base), ("ours", ours)):
        for k in ("median", "min", "max"):
            row[f"{side}_{k}"] = None if t is None else t.get(k)
        row[f"{side}_rss_mb"] = None if t is None or t.get("rss_kb") is None else round(t["rss_kb"] / 1024, 1)
        if t is not None and t.get("rss_upper_bound"):
            row[f"{side}_rss_upper_bound"] = True  # at most this much: see time_process
        row[f"{side}_runs"] = None if t is None else t.get("runs")
    ok = base and ours and base.get("median") and ours.get("median")
    row["ratio"] = round(base["median"] / ours["median"], 3) if ok else None
    row.update(extra)
    return row


def add_json_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", metavar="PATH", help="also write the results as a JSON list of rows to PATH")


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename: a failed run leaves the old file."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".bench-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | None, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` atomically; no-op without a path."""
    if path:
        write_atomic(path, json.dumps(rows, indent=1))


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


def throughput_and_rss_rows(args: Any, rates: list, ours: dict, theirs: dict, rss: list, *, benchmark: str,
                            rss_benchmark: str, model: str, baseline: str, ours_name: str,
                            min_ratio: float, how: str = "in-process") -> list[dict]:
    """Print the verdicts of a throughput + peak-RSS benchmark and return its JSON rows
    (features_vs_predict and stats_vs_predict report the same way)."""
    print(table(rss, ["data", "ours peak RSS MB", "keras predict peak RSS MB"]))
    a, b = float(rss[0][1].replace(",", "")), float(rss[1][1].replace(",", ""))
    print(f"\nours: 10x rows -> peak RSS {100 * (b / a - 1):+.1f}% (target < +10%)")
    ok = float(rates[2]) >= min_ratio and b / a < 1.10
    print("PASS" if ok else "FAIL")
    rows = [{"benchmark": benchmark, "model": f"{model}, {args.rows} rows",
             "baseline": f"{baseline} ({how})", "ours": f"{ours_name} ({how})",
             **{f"baseline_{k}": theirs[k] for k in ("median", "min", "max", "runs")},
             **{f"ours_{k}": ours[k] for k in ("median", "min", "max", "runs")},
             "ratio": round(theirs["median"] / ours["median"], 3), "ours_rows_per_s": round(args.rows / ours["median"]),
             "baseline_rows_per_s": round(args.rows / theirs["median"]), "target": f"ratio >= {min_ratio}"}]
    for r in rss:
        rows.append({"benchmark": rss_benchmark, "model": f"{model}, {r[0]}",
                     "baseline": baseline, "ours": ours_name,
                     "baseline_rss_mb": float(r[2].replace(",", "")), "ours_rss_mb": float(r[1].replace(",", "")),
                     "baseline_runs": 1, "ours_runs": 1})
    rows[-1]["ours_rss_growth_pct"] = round(100 * (b / a - 1), 1)
    rows[-1]["target"] = "ours +10x rows: peak RSS < +10%"
    rows[0]["pass"], rows[-1]["pass"] = float(rates[2]) >= min_ratio, b / a < 1.10
    return rows
