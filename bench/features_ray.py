"""`inspector features --engine ray` (1 and 2 workers) vs the single-process path, same data, same run.

Usage: python bench/features_ray.py [--model MobileNetV2] [--layer block_13_expand_relu] [--size 96]
                                    [--rows 1024] [--batch 32] [--workers 1,2] [--runs 1] [--quick] [--json PATH]

Every side runs in a fresh process, as a user's command would: it imports TensorFlow,
loads the saved model and writes the output file. The Ray sides start a local cluster
(this machine's CPUs, no dashboard) and shut it down, as ``--engine ray`` without
``--address`` does. Reported per side:

* end to end: the whole call (model load, cluster start, workers, output), rows/s;
* steady: rows/s once running: for Ray between the first and the last batch arriving,
  for the single process its loop time less that of a one-batch run (tracing, first batch);
* Ray's fixed cost: ``ray.init`` and the time until the first batch is back (worker
  processes start, import TensorFlow and build the model).

The outputs of all sides are checked equal bit for bit. --quick: 256 rows.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PY, ROOT, add_json_arg, keras_env, machine, table, write_json  # noqa: E402

CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[1])
side, model, layer, data, out, batch, workers = sys.argv[2:9]
t0 = time.perf_counter()
if side == "single":
    import inspector
    r = inspector.extract_features(model, layer, data, out, batch_size=int(batch))
    seconds = time.perf_counter() - t0
    # one batch alone: its loop time (first-call tracing, one batch) taken off the full run's gives the rest's rate
    one = inspector.extract_features(model, layer, data[:-4] + "-1.npy", out + ".one.npy", batch_size=int(batch))
    steady = (r.rows - one.rows) / (r.seconds - one.seconds) if r.seconds > one.seconds else None
    print(json.dumps({"rows": r.rows, "seconds": seconds, "steady_rows_per_s": steady}))
else:
    from inspector.extract.ray_engine import run
    marks = []
    r = run(model, layer, data, out, batch_size=int(batch), num_workers=int(workers),
            progress=lambda done, total: marks.append((time.perf_counter(), done)))
    (t1, n1), (t2, n2) = marks[0], marks[-1]
    print(json.dumps({"rows": r.rows, "seconds": time.perf_counter() - t0, "startup": r.startup_seconds,
                      "first_batch": r.first_batch_seconds,
                      "steady_rows_per_s": (n2 - n1) / (t2 - t1) if t2 > t1 else None}))
"""


def make_model(path: str, name: str, size: int) -> None:
    """A keras.applications model with random weights (nothing downloaded), seeded, saved."""
    code = (f"import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport keras\nkeras.utils.set_random_seed(0)\n"
            f"keras.applications.{name}(weights=None, input_shape=({size}, {size}, 3)).save({path!r})")
    subprocess.run([PY, "-c", code], check=True, env=keras_env(), cwd=ROOT)


def make_data(path: str, rows: int, size: int) -> None:
    """Random images as a float32 .npy, written in chunks (never whole in memory)."""
    import numpy as np

    mm = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=(rows, size, size, 3))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 256):
        mm[start:start + 256] = rng.random((min(256, rows - start), size, size, 3), dtype="float32") * 255
    mm.flush()
    del mm


def child(side: str, args: argparse.Namespace, model: str, data: str, out: str, workers: int) -> dict:
    p = subprocess.run([PY, "-c", CHILD, ROOT, side, model, args.layer, data, out, str(args.batch), str(workers)],
                       capture_output=True, text=True, env=keras_env(), cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"{side} x{workers}: exit {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="MobileNetV2")
    ap.add_argument("--layer", default="block_13_expand_relu")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to measure (comma-separated)")
    ap.add_argument("--runs", type=int, default=1, help="runs per side (medians reported)")
    ap.add_argument("--quick", action="store_true", help="--rows 256")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.quick:
        args.rows = 256
    import numpy as np

    counts = [int(w) for w in args.workers.split(",")]
    print(f"# features --engine ray vs single process ({machine()}): {args.model} {args.size}x{args.size}, "
          f"layer {args.layer}, {args.rows} rows, batch {args.batch}")
    sides = [("single", 0)] + [("ray", w) for w in counts]
    results: dict[tuple[str, int], list[dict]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        model, data = os.path.join(tmp, "model.keras"), os.path.join(tmp, "x.npy")
        make_model(model, args.model, args.size)
        make_data(data, args.rows, args.size)
        np.save(data[:-4] + "-1.npy", np.load(data, mmap_mode="r")[:args.batch])
        for i in range(args.runs):
            for side, w in sides:
                out = os.path.join(tmp, f"{side}{w}-{i}.npy")
                results[(side, w)].append(child(side, args, model, data, out, w))
                if (side, w) != sides[0]:
                    assert np.array_equal(np.load(out), np.load(os.path.join(tmp, f"single0-{i}.npy"))), \
                        f"{side} x{w}: output differs from the single-process run"
                    os.unlink(out)

    def med(side: tuple[str, int], key: str) -> float | None:
        vals = [r[key] for r in results[side] if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    base = med(("single", 0), "seconds")
    cells, rows = [], []
    for side, w in sides:
        sec = med((side, w), "seconds")
        steady = med((side, w), "steady_rows_per_s")
        startup, first = med((side, w), "startup"), med((side, w), "first_batch")
        name = "single process" if side == "single" else f"ray, {w} worker{'s' * (w > 1)}"
        cells.append([name, f"{sec:.1f}", f"{args.rows / sec:,.0f}", f"{steady:,.0f}" if steady else "-",
                      "-" if startup is None else f"{startup:.1f}", "-" if first is None else f"{first:.1f}",
                      f"{base / sec:.2f}"])
        rows.append({"benchmark": "features_ray", "model": f"{args.model} {args.size}x{args.size} @ {args.layer}, "
                     f"{args.rows} rows", "ours": name, "baseline": "single process (extract_features)",
                     "ours_median": sec, "baseline_median": base, "ratio": round(base / sec, 3),
                     "end_to_end_rows_per_s": round(args.rows / sec, 1),
                     "steady_rows_per_s": round(steady, 1) if steady else None,
                     "ray_init_s": startup, "first_batch_s": first, "runs": args.runs, "bit_identical": True})
    print(table(cells, ["side", "end to end s", "rows/s", "steady rows/s", "ray.init s", "first batch s",
                        "vs single"]))
    print("\nsteady: rows/s once running. Single process: the full run's loop time less a one-batch run's "
          "(tracing and first batch off); ray: between the first and the last batch back.\n"
          "All outputs equal the single-process output bit for bit.")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
