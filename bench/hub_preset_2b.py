"""Speed check (not a test): `inspector summary` of a full-size Gemma 2B keras-hub preset folder,
float32 (sharded) and int8-quantized, as whole processes, against the targets < 1 s and < 150 MB.

    python bench/hub_preset_2b.py [--runs 5] [--dir bench/.cache] [--json PATH]

The presets are written without weight data: a tiny GemmaBackbone (dimensions chosen so each maps
to one Gemma 2B dimension) is saved with ``save_to_preset`` (sharded), and for the int8 variant after
``quantize("int8")``; its files' structure (groups, ``name`` attributes, datasets, dtypes, the
config and its dtype policy map) is copied with every dimension scaled to Gemma 2B's (vocabulary
256000, 18 blocks, hidden 2048, intermediate 32768, 8 query heads, 1 kv head, head dim 256).
h5py's ``create_dataset(shape=, dtype=)`` without data allocates nothing, so ~10 GB of weights
take a few hundred KB on disk, and the sharded index places them as Keras's ``ShardedH5IOStore``
would (a new shard past ``max_shard_size``). Needs Keras and keras-hub to build the tiny model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, INSPECTOR, add_json_arg, keras_env, machine, result, table, time_process, write_json  # noqa: E402

#: tiny value -> Gemma 2B value, one dimension each (so a tiny shape scales unambiguously)
TINY = {"vocabulary_size": 61, "hidden_dim": 12, "intermediate_dim": 14, "num_query_heads": 8,
        "num_key_value_heads": 1, "head_dim": 5}
FULL = {"vocabulary_size": 256000, "hidden_dim": 2048, "intermediate_dim": 32768, "num_query_heads": 8,
        "num_key_value_heads": 1, "head_dim": 256}
DIMS = {61: 256000, 12: 2048, 7: 16384, 8: 8, 1: 1, 5: 256}
BLOCKS = 18
MAX_SHARD_BYTES = 5 * 1024**3   # keras's ShardedH5IOStore default (5 GB)
TARGET_S, TARGET_MB = 1.0, 150

TINY_CHILD = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras_hub
out, mode, dims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
m = keras_hub.models.GemmaBackbone(num_layers=1, **dims)
if mode == "int8":
    m.quantize("int8")
m.save_to_preset(out)
"""


def tiny_preset(out: str, mode: str) -> None:
    """A one-block tiny GemmaBackbone preset (Keras runs in a child: this process stays small)."""
    subprocess.run([sys.executable, "-c", TINY_CHILD, out, mode, json.dumps(TINY)], check=True, env=keras_env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _scale(shape: tuple) -> tuple:
    assert all(d in DIMS for d in shape), f"tiny dimension not mapped: {shape}"
    return tuple(DIMS[d] for d in shape)


def _layout(h5) -> list[tuple[str, dict, list]]:
    """(group path, attrs, [(dataset key, shape, dtype)]) of every group, in file order."""
    import h5py

    out = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group):
            ds = [(k, v.shape, v.dtype) for k, v in obj.items() if isinstance(v, h5py.Dataset)]
            out.append((name, dict(obj.attrs), ds))

    out.append(("", dict(h5.attrs), []))
    h5.visititems(visit)
    return out


def _blockwise(layout: list) -> list:
    """The one tiny block repeated BLOCKS times (``gemma_decoder_block``, ``_1`` ... as Keras keys them)."""
    out = []
    for path, attrs, ds in layout:
        if path.startswith("layers/gemma_decoder_block"):
            rest = path[len("layers/gemma_decoder_block"):]
            for b in range(BLOCKS):
                key = "gemma_decoder_block" + (f"_{b}" if b else "")
                battrs = dict(attrs)
                if rest == "/vars":
                    battrs["name"] = f"decoder_block_{b}"
                out.append((f"layers/{key}{rest}", battrs, ds))
        else:
            out.append((path, attrs, ds))
    return out


def write_full(tiny_dir: str, out: str) -> int:
    """The full-size preset in ``out`` (sharded past MAX_SHARD_BYTES); returns its parameter count."""
    import h5py

    os.makedirs(out, exist_ok=True)
    with h5py.File(os.path.join(tiny_dir, "model.weights.h5"), "r") as f:
        layout = _blockwise(_layout(f))
    shards: list[list] = [[]]
    size, total, wmap = 0, 0, {}
    for path, attrs, ds in layout:
        nbytes = sum(math.prod(_scale(s)) * dt.itemsize for _, s, dt in ds)
        total += sum(math.prod(_scale(s)) for _, s, _ in ds)
        if ds and size + nbytes > MAX_SHARD_BYTES and size:
            shards.append([])
            size = 0
        size += nbytes
        shards[-1 if ds else 0].append((path, attrs, ds))
        if ds:
            wmap["/" + path] = f"model_{len(shards) - 1:05}.weights.h5"
    for i, groups in enumerate(shards):
        with h5py.File(os.path.join(out, f"model_{i:05}.weights.h5"), "w") as f:
            for path, attrs, ds in groups:
                g = f.require_group(path) if path else f
                g.attrs.update(attrs)
                for key, shape, dtype in ds:
                    g.create_dataset(key, shape=_scale(shape), dtype=dtype)   # no data: nothing allocated
    with open(os.path.join(out, "model.weights.json"), "w") as f:
        json.dump({"metadata": {"total_size": float(sum(MAX_SHARD_BYTES for _ in shards))}, "weight_map": wmap}, f,
                  indent=4)
    config = json.load(open(os.path.join(tiny_dir, "config.json")))
    config["config"].update(FULL, num_layers=BLOCKS)
    pm = ((config["config"].get("dtype") or {}).get("config") or {}).get("policy_map")
    if isinstance(pm, dict):   # the int8 policy map names every quantized layer by its path
        one = {k: v for k, v in pm.items() if k.startswith("decoder_block_0/")}
        for b in range(1, BLOCKS):
            pm.update({k.replace("decoder_block_0/", f"decoder_block_{b}/"): v for k, v in one.items()})
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=4)
    meta = json.load(open(os.path.join(tiny_dir, "metadata.json")))
    meta["parameter_count"] = total
    json.dump(meta, open(os.path.join(out, "metadata.json"), "w"), indent=4)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=CACHE)
    ap.add_argument("--quick", action="store_true", help="--runs 3")
    add_json_arg(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = min(args.runs, 3)
    rows, out_rows = [], []
    for mode in ("float32", "int8"):
        folder = os.path.join(args.dir, f"gemma_2b_preset_{mode}")
        with tempfile.TemporaryDirectory() as tmp:
            tiny_preset(os.path.join(tmp, "tiny"), mode)
            shutil.rmtree(folder, ignore_errors=True)
            total = write_full(os.path.join(tmp, "tiny"), folder)
        disk = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        shards = len([f for f in os.listdir(folder) if f.endswith(".weights.h5")])
        t = time_process([*INSPECTOR, "summary", folder], runs=args.runs, env=keras_env())
        check = subprocess.run([*INSPECTOR, "summary", folder], capture_output=True, text=True, env=keras_env(),
                               cwd=ROOT)
        shown = next((line for line in check.stdout.splitlines() if line.startswith("Total params")), "?")
        ok = t["median"] < TARGET_S and t["rss_kb"] / 1024 < TARGET_MB
        rows.append([mode, f"{total:,}", shown.split(":")[1].strip(), str(shards), f"{disk / 1024:.0f} KB",
                     f"{t['median']:.3f} ({t['min']:.3f}–{t['max']:.3f})", f"{t['rss_kb'] / 1024:.0f}",
                     "yes" if ok else "NO"])
        out_rows.append(result("hub_preset_2b", f"gemma_2b_{mode}", None, None, "inspector summary", t,
                               params=total, shards=shards, target_s=TARGET_S, target_mb=TARGET_MB))
    print(f"{machine()}; `inspector summary DIR`, whole processes, median (min–max) of {args.runs} runs after a "
          "warm-up; peak RSS via wait4\n")
    print(table(rows, ["preset", "params (written)", "summary says", "shards", "on disk", "summary s",
                       "peak MB", f"< {TARGET_S:g} s and < {TARGET_MB} MB"]))
    write_json(args.json, out_rows)


if __name__ == "__main__":
    main()
