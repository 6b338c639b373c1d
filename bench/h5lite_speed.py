"""Speed check (not a test): walk every group and dataset shape of big `.keras` weights files
with inspector.readers.hdf5.lite and with h5py, and print both: h5py as the inspector would have
to use it (the zip member opened in place through a Python file object, a walk from Python) and
h5py's fastest way (the member extracted to disk, the native file driver, one C-level
``h5py.h5o.visit`` with object info), in-process and as whole fresh processes (imports included).

    python bench/h5lite_speed.py [--runs 5] [--dir bench/.cache] [--quick] [--json PATH]

Models: a 3,000-layer residual MLP (Dense + Add pairs, width 16) and NASNetLarge
(keras.applications, weights=None). ``DIR/mlp3000.keras`` and ``DIR/nasnetlarge.keras``
are reused when present (the bench cache, shared with static_vs_keras.py); otherwise they
are built (this needs Keras and takes minutes). It explains the static reader's times (issue
#2's target is on the whole `inspector summary`, see static_vs_keras.py). Times are CPU seconds, best of ``--runs`` (the JSON also has
median/min/max); the "process" columns are whole fresh interpreters (import + open + walk),
one run each. --quick: 3 runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import struct
import subprocess
import sys
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, add_json_arg, ensure_model, residual_mlp, write_json  # noqa: E402

from inspector.readers.archive import WindowFile  # noqa: E402


def nasnet():
    import keras

    return keras.applications.NASNetLarge(weights=None)


def build_models(out_dir: str) -> dict[str, str]:
    """Paths of the two models in ``out_dir``, built (in a child process) if missing."""
    return {"mlp3000": ensure_model("mlp3000", lambda: residual_mlp(3000), out_dir),
            "nasnetlarge": ensure_model("nasnetlarge", nasnet, out_dir)}


def member_range(path: str, member: str = "model.weights.h5") -> tuple[int, int]:
    """(offset, size) of a stored (uncompressed) zip member's data."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        raise SystemExit(f"{path}: {member} is compressed")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def walk_h5lite(path: str, start: int, size: int) -> int:
    from inspector.readers.hdf5 import lite as h5lite

    n = 0
    with open(path, "rb") as fh, h5lite.File(fh, offset=start, size=size) as f:
        for _, obj in f.root.walk():
            if isinstance(obj, h5lite.Dataset):
                obj.shape, obj.dtype
                n += 1
    return n


def walk_h5py(path: str, start: int, size: int) -> int:
    import h5py

    n = 0
    with open(path, "rb") as fh, h5py.File(WindowFile(fh, start, size), "r") as f:
        stack = [f]
        while stack:
            g = stack.pop()
            for key in g.keys():
                if not isinstance(g.get(key, getlink=True), h5py.HardLink):
                    continue
                obj = g[key]
                if isinstance(obj, h5py.Dataset):
                    obj.shape, obj.dtype
                    n += 1
                else:
                    stack.append(obj)
    return n


def extract_member(path: str, out_dir: str) -> str:
    """The weights file as a plain file on disk (once), for h5py's native (sec2) file driver."""
    dst = os.path.join(out_dir, os.path.basename(path) + ".weights.h5")
    if not os.path.exists(dst):
        with zipfile.ZipFile(path) as z, z.open("model.weights.h5") as src, open(dst + ".tmp", "wb") as f:
            f.write(src.read())
        os.replace(dst + ".tmp", dst)
    return dst


def walk_h5lite_file(h5: str) -> int:
    """h5lite on the extracted file (same input as the native h5py walk)."""
    size = os.path.getsize(h5)
    return walk_h5lite(h5, 0, size)


def walk_h5py_visit(h5: str) -> int:
    """h5py's fastest way: its native file driver and one ``h5o.visit`` with object info (C-level
    traversal of every hard-linked object), each dataset's shape and dtype from the low-level API."""
    import h5py

    n = 0
    with h5py.File(h5, "r") as f:
        fid = f.id

        def visit(name: bytes, info) -> None:
            nonlocal n
            if info.type == h5py.h5o.TYPE_DATASET:
                ds = h5py.h5d.open(fid, name)
                ds.get_space().shape, ds.dtype
                n += 1

        h5py.h5o.visit(fid, visit, info=True)
    return n


def best(fn, runs: int) -> tuple[dict, int]:
    """CPU seconds of ``fn()`` over ``runs`` runs (median/min/max), and what it returned."""
    times, n = [], 0
    for _ in range(runs):
        t = time.process_time()
        n = fn()
        times.append(time.process_time() - t)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": runs}, n


def process_time(which: str, *args: object) -> float:
    """Wall seconds of a fresh interpreter importing its reader and walking (interpreter start-up excluded)."""
    code = (f"import sys, time; sys.path.insert(0, {ROOT!r}); sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "t = time.perf_counter()\n"
            f"import h5lite_speed as b; b.walk_{which}(*{args!r})\n"
            "print(time.perf_counter() - t)\n")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip() or (time.perf_counter() - t))


def calibration() -> float:
    """Microseconds for ``sum(range(1000))`` (best of 200): how fast this Python runs right now."""
    best_t = float("inf")
    for _ in range(200):
        t = time.perf_counter()
        sum(range(1000))
        best_t = min(best_t, time.perf_counter() - t)
    return best_t * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=CACHE)
    ap.add_argument("--quick", action="store_true", help="--runs 3")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = 3
    paths = build_models(args.dir)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; sum(range(1000)) takes {calibration():.1f} us "
          "(CPU-bound timings scale with it)")
    print(f"{'model':<12} {'datasets':>8} {'h5lite':>9} {'h5py':>9} {'speed-up':>8}   "
          f"{'h5lite process':>14} {'h5py process':>12}   {'h5py visit':>10} {'visit process':>13}")
    rows = []
    for name, path in paths.items():
        start, size = member_range(path)
        lite_t, n1 = best(lambda: walk_h5lite(path, start, size), args.runs)
        h5_t, n2 = best(lambda: walk_h5py(path, start, size), max(3, args.runs // 2))
        lite, h5 = lite_t["min"], h5_t["min"]
        assert n1 == n2, (n1, n2)
        pl = statistics.median(process_time("h5lite", path, start, size) for _ in range(3))
        ph = statistics.median(process_time("h5py", path, start, size) for _ in range(3))
        h5file = extract_member(path, args.dir)
        lite_f, n3 = best(lambda: walk_h5lite_file(h5file), args.runs)
        visit_t, n4 = best(lambda: walk_h5py_visit(h5file), args.runs)
        assert n3 == n4 == n1, (n1, n3, n4)
        pv = statistics.median(process_time("h5py_visit", h5file) for _ in range(3))
        plf = statistics.median(process_time("h5lite_file", h5file) for _ in range(3))
        print(f"{name:<12} {n1:>8} {lite * 1000:>7.1f}ms {h5 * 1000:>7.0f}ms {h5 / lite:>7.0f}x   "
              f"{pl * 1000:>12.0f}ms {ph * 1000:>10.0f}ms   {visit_t['min'] * 1000:>8.1f}ms {pv * 1000:>11.0f}ms",
              flush=True)
        print(f"{'':<12} on the extracted file: h5lite {lite_f['min'] * 1000:.1f} ms in-process, {plf * 1000:.0f} ms "
              f"as a process; h5py native + h5o.visit {visit_t['min'] * 1000:.1f} ms, {pv * 1000:.0f} ms as a "
              f"process (process ratio h5py/h5lite {pv / plf:.2f})", flush=True)
        row = {"benchmark": "h5lite_walk", "model": name, "baseline": "h5py walk (CPU s, in-process)",
               "ours": "h5lite walk (CPU s, in-process)", "datasets": n1,
               **{f"baseline_{k}": v for k, v in h5_t.items()}, **{f"ours_{k}": v for k, v in lite_t.items()},
               "ratio": round(h5_t["median"] / lite_t["median"], 3) if lite_t["median"] else None,
               "ratio_best": round(h5 / lite, 3) if lite else None,
               "ours_process_s": round(pl, 4), "baseline_process_s": round(ph, 4),
               "h5py_visit_s": round(visit_t["min"], 5), "h5lite_file_s": round(lite_f["min"], 5),
               "h5py_visit_process_s": round(pv, 4), "h5lite_file_process_s": round(plf, 4)}
        rows.append(row)
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
