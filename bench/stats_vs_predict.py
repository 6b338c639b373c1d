"""`inspector stats` (every layer call) vs Keras `predict` of a model that outputs every layer.

Usage: python bench/stats_vs_predict.py [--rows 1024] [--batch 64] [--size 32] [--runs 3]
                                        [--rss-rows 128] [--quick] [--json PATH]

Targets (issue 13):
* throughput: ours / Keras >= 0.8. Keras gets the data already in memory
  (``np.load`` outside the timing) and returns every layer's output for every
  row; ours reads the ``.npy`` from disk batch by batch and folds every layer
  call's output into its statistics (mean/std, min/max, |x|, zeros, dead units,
  NaN/Inf, 32-bin histogram). Each run is a fresh process per side (imports and
  the model build untimed, both pay the tf.function trace), sides alternating;
  medians are compared (see ``throughput`` for why not one long-lived process).
* memory: whole-process peak RSS of ours for 10x more rows grows by < 10%.
  Keras's ``predict`` on the same two sizes is shown for contrast (it holds
  every layer's output for every row).

The model: a CNN of Conv-BatchNorm-ReLU blocks on SIZExSIZE RGB images (the
activations a stats run is for), random weights, seeded.
--quick: 256 rows for throughput (the memory check keeps its sizes).
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
from common import CHILD_PRELUDE, PY, ROOT, add_json_arg, keras_env, machine, table, throughput_and_rss_rows, write_json  # noqa: E402

sys.path.insert(0, ROOT)

CHILD = CHILD_PRELUDE + r"""
import numpy as np
from bench.stats_vs_predict import build, all_outputs
side, size, data, batch = sys.argv[2:6]
model = build(int(size))
x = None if side == "ours" else np.load(data)      # Keras gets the data in memory, untimed
t0 = time.perf_counter()
if side == "ours":
    from inspector.numerics.stats import run_stats
    rows = run_stats(model, data, batch_size=int(batch), progress=False)["rows"]
else:
    rows = len(all_outputs(model).predict(x, batch_size=int(batch), verbose=0)[0])
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0, "rss_mb": peak_mb()}))
"""


def build(size: int):
    """Four Conv-BatchNorm-ReLU blocks (32, 64, 64, 128 channels, pooling after the 2nd and 4th),
    global pooling, a softmax head; random weights, seeded."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    i = keras.Input((size, size, 3), name="image")
    x = i
    for k, c in enumerate((32, 64, 64, 128)):
        x = layers.Conv2D(c, 3, padding="same", name=f"conv{k}")(x)
        x = layers.BatchNormalization(name=f"bn{k}")(x)
        x = layers.ReLU(name=f"relu{k}")(x)
        if k % 2:
            x = layers.MaxPooling2D(name=f"pool{k}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(i, layers.Dense(10, activation="softmax", name="out")(x), name="cnn_blocks")


def all_outputs(model):
    """The baseline: Keras's own model with one output per layer (the input layer included)."""
    import keras

    return keras.Model(model.inputs, [layer.output for layer in model.layers])


def make_data(path: str, rows: int, size: int) -> None:
    """Random images as a float32 .npy, written in chunks (never whole in memory)."""
    import numpy as np

    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, size, size, 3))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 256):
        n = min(256, rows - start)
        mm[start:start + n] = rng.random((n, size, size, 3), dtype="float32")
    mm.flush()
    del mm


def summary(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def throughput(args: argparse.Namespace, tmp: str) -> tuple[list[str], dict, dict]:
    """Table cells, then ours and Keras's seconds over ``args.runs`` runs of each.

    Each run is a fresh process (the CHILD script: imports and the model build are not timed,
    the pass over the data is), alternating sides: a user runs one command per data set, so
    Keras's concatenated outputs (gigabytes for every layer of a CNN) are paid for as first-touched
    memory, as ours are; timed in one long-lived process, the second side would reuse the first's
    freed pages. The statistics are checked against numpy on Keras's outputs once, in-process."""
    import numpy as np

    from inspector.numerics.stats import run_stats

    data = os.path.join(tmp, "x.npy")
    make_data(data, args.rows, args.size)
    check = os.path.join(tmp, "check.npy")
    make_data(check, min(args.rows, 128), args.size)
    model = build(args.size)
    y = all_outputs(model).predict(np.load(check), batch_size=args.batch, verbose=0)
    y = y[[layer.name for layer in model.layers].index("relu3")].astype(np.float64)
    got = run_stats(model, check, batch_size=args.batch, progress=False)["layers"]["relu3"]
    assert np.isclose(got["mean"], y.mean(), rtol=1e-5) and got["max"] == y.max(), "statistics differ"
    ours, theirs = [], []
    for _ in range(args.runs):
        for side, out in (("keras", theirs), ("ours", ours)):
            out.append(run_child(args, side, data)["seconds"])
    o, t = statistics.median(ours), statistics.median(theirs)
    return [f"{args.rows / o:,.0f}", f"{args.rows / t:,.0f}", f"{t / o:.2f}"], summary(ours), summary(theirs)


def run_child(args: argparse.Namespace, side: str, data: str) -> dict:
    """One pass of ``side`` ("ours" or "keras") over ``data`` in a fresh process: its JSON line."""
    p = subprocess.run([PY, "-c", CHILD, ROOT, side, str(args.size), data, str(args.batch)],
                       capture_output=True, text=True, env=keras_env(), cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def peak_rss(args: argparse.Namespace, tmp: str) -> list[list[str]]:
    out = []
    for rows in (args.rss_rows, args.rss_rows * 10):
        data = os.path.join(tmp, f"rss{rows}.npy")
        make_data(data, rows, args.size)
        row = [f"{rows:,} rows ({os.path.getsize(data) / 2**20:,.0f} MB)"]
        for side in ("ours", "keras"):
            row.append(f"{run_child(args, side, data)['rss_mb']:,.0f}")
        os.unlink(data)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rss-rows", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="--rows 256 (the memory check keeps its sizes)")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.quick:
        args.rows = 256
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"# stats (every layer call) vs Keras predict of every layer ({machine()}): "
          f"CNN {args.size}x{args.size}, batch {args.batch}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        rates, ours, theirs = throughput(args, tmp)
        print(table([rates], ["ours rows/s", "keras predict rows/s", "ratio (>= 0.8)"]))
        rss = peak_rss(args, tmp)
        print()
        rows = throughput_and_rss_rows(args, rates, ours, theirs, rss, benchmark="stats_vs_predict",
                                       rss_benchmark="stats_peak_rss", model=f"CNN blocks {args.size}x{args.size}, all layer calls",
                                       baseline="keras predict, every layer", ours_name="run_stats", min_ratio=0.8,
                                       how="a fresh process per run")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
