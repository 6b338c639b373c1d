"""`extract_features` vs `model.predict` of Keras's own truncated model, same data, same run.

Usage: python bench/features_vs_predict.py [--model MobileNetV2] [--layer block_13_expand_relu]
                                           [--size 96] [--rows 512] [--batch 32] [--runs 3] [--rss-rows 256]
                                           [--quick] [--json PATH]

Targets (issue #5):
* throughput: ours / Keras >= 0.9. Keras gets the data already in memory
  (``np.load`` outside the timing); ours reads the ``.npy`` from disk batch by
  batch and writes the output file. Both sides build a fresh model (so both pay
  the tf.function trace) each run; medians are compared.
* memory: whole-process peak RSS of ours for 10x more rows grows by < 10%.
  Keras's ``predict`` on the same two sizes is shown for contrast (it holds the
  input and every output batch in memory).

--quick: 128 rows for throughput (the memory check keeps its sizes).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CHILD_PRELUDE, PY, ROOT, add_json_arg, keras_env, machine, table, throughput_and_rss_rows, write_json  # noqa: E402

sys.path.insert(0, ROOT)

CHILD = CHILD_PRELUDE + r"""
import numpy as np
from bench.features_vs_predict import build
side, model_name, size, layer, data, out, batch = sys.argv[2:9]
model = build(model_name, int(size))
t0 = time.perf_counter()
if side == "ours":
    from inspector.extract.features import extract_features
    rows = extract_features(model, layer, data, out, batch_size=int(batch)).rows
else:
    import keras
    x = np.load(data)
    y = keras.Model(model.inputs, model.get_layer(layer).output).predict(x, batch_size=int(batch), verbose=0)
    np.save(out, y)
    rows = len(y)
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0,
                  "rss_mb": peak_mb()}))
"""


def build(name: str, size: int):
    """A keras.applications model with random weights (nothing downloaded), seeded."""
    import keras

    keras.utils.set_random_seed(0)
    return getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))


def make_data(path: str, rows: int, size: int) -> None:
    """Random images as a float32 .npy, written in chunks (never whole in memory)."""
    import numpy as np

    from inspector.extract.features import NpyWriter

    w = NpyWriter(path, rows, (size, size, 3), np.float32)
    rng = np.random.default_rng(0)
    for start in range(0, rows, 256):
        n = min(256, rows - start)
        w.write(start, (rng.random((n, size, size, 3), dtype="float32") * 255))


def stats(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def throughput(args: argparse.Namespace, tmp: str) -> tuple[list[str], dict, dict]:
    """Table cells, then ours and Keras's in-process seconds (median/min/max) over ``args.runs`` runs."""
    import keras
    import numpy as np

    from inspector.extract.features import extract_features

    data = os.path.join(tmp, "x.npy")
    make_data(data, args.rows, args.size)
    model = build(args.model, args.size)
    x = np.load(data)
    ours, theirs = [], []
    for i in range(args.runs):
        t0 = time.perf_counter()
        trunc = keras.Model(model.inputs, model.get_layer(args.layer).output)
        y = trunc.predict(x, batch_size=args.batch, verbose=0)
        theirs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        extract_features(model, args.layer, data, os.path.join(tmp, "f.npy"), batch_size=args.batch)
        ours.append(time.perf_counter() - t0)
        if i == 0:
            assert np.allclose(np.load(os.path.join(tmp, "f.npy")), y, atol=1e-4), "outputs differ"
    o, t = statistics.median(ours), statistics.median(theirs)
    return [f"{args.rows / o:,.0f}", f"{args.rows / t:,.0f}", f"{t / o:.2f}"], stats(ours), stats(theirs)


def peak_rss(args: argparse.Namespace, tmp: str) -> list[list[str]]:
    out = []
    sizes = [args.rss_rows, args.rss_rows * 10]
    for rows in sizes:
        data = os.path.join(tmp, f"rss{rows}.npy")
        make_data(data, rows, args.size)
        row = [f"{rows:,} rows ({os.path.getsize(data) / 2**20:,.0f} MB)"]
        for side in ("ours", "keras"):
            p = subprocess.run([PY, "-c", CHILD, ROOT, side, args.model, str(args.size), args.layer, data,
                                os.path.join(tmp, f"{side}{rows}.npy"), str(args.batch)],
                               capture_output=True, text=True, env=keras_env(), cwd=ROOT)
            if p.returncode != 0:
                raise RuntimeError(p.stderr[-2000:])
            row.append(f"{json.loads(p.stdout.strip().splitlines()[-1])['rss_mb']:,.0f}")
        os.unlink(data)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="MobileNetV2")
    ap.add_argument("--layer", default="block_13_expand_relu")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rss-rows", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="--rows 128 (the memory check keeps its sizes)")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.quick:
        args.rows = 128
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"# features vs Keras predict ({machine()}): {args.model} {args.size}x{args.size}, "
          f"layer {args.layer}, batch {args.batch}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        rates, ours, theirs = throughput(args, tmp)
        print(table([rates], ["ours rows/s", "keras predict rows/s", "ratio (>= 0.9)"]))
        rss = peak_rss(args, tmp)
        print()
        rows = throughput_and_rss_rows(args, rates, ours, theirs, rss, benchmark="features_vs_predict",
                                       rss_benchmark="features_peak_rss", model=f"{args.model} {args.size}x{args.size} @ {args.layer}",
                                       baseline="keras predict", ours_name="extract_features", min_ratio=0.9)
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
