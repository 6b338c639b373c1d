"""`inspector summary` vs `keras.models.load_model` + `model.summary()`, whole process.

Usage: python bench/static_vs_keras.py [--runs N] [--keras-runs N] [--quick]
                                       [--models all|apps|mlps|samples|resnet50,nasnetlarge,mlp3000,...]
                                       [--json PATH]

Models: every `keras.applications` model (weights=None; named by its lower-cased class,
e.g. resnet50, efficientnetv2b0), the generated residual MLPs mlp1000/mlp3000/mlp10000,
and the sample models (samples/build/*.keras, `make samples`; named sample:<name>).
Built models are cached under bench/.cache. --quick runs resnet50 and mlp1000 only.

Targets (issue #2): NASNetLarge summary under 0.5 s wall; at least 20x faster
than Keras on every model. Keras needs a raised recursion limit (and a big
thread stack) even to load the 3,000-layer model; the inspector does not.
The Keras side of a sample with custom classes imports `samples.seed_models`
first (Keras cannot load it otherwise); the inspector reads it as is.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    INSPECTOR,
    PY,
    ROOT,
    add_json_arg,
    ensure_model,
    fmt,
    keras_child,
    keras_env,
    machine,
    mb,
    residual_mlp,
    result,
    table,
    timed,
    write_json,
)

KERAS_SUMMARY = keras_child("""
    import keras
    if len(sys.argv) > 2:
        import importlib; importlib.import_module(sys.argv[2])  # registers a sample's custom classes
    m = keras.models.load_model(sys.argv[1], compile=False)
    m.summary(print_fn=lambda *a, **k: None)
""")

LIST_APPS = ("import keras; print(' '.join(n for n in dir(keras.applications) "
             "if n[:1].isupper() and callable(getattr(keras.applications, n))))")
MLPS = [1000, 3000, 10000]
SAMPLES_DIR = os.path.join(ROOT, "samples", "build")
QUICK = "resnet50,mlp1000"


def app_builder(name: str) -> Callable[[], object]:
    def build():
        import keras

        return getattr(keras.applications, name)(weights=None)
    return build


def applications() -> list[str]:
    """Class names of every model in the installed `keras.applications` (asked in a child process)."""
    p = subprocess.run([PY, "-c", LIST_APPS], capture_output=True, text=True, env=keras_env(), cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"cannot list keras.applications:\n{p.stderr[-2000:]}")
    return sorted(p.stdout.split())


def catalogue() -> dict[str, tuple[str, Callable[[], str]]]:
    """Every known model: name -> (group, function returning its .keras path, building it if needed)."""
    out: dict[str, tuple[str, Callable[[], str]]] = {}
    for cls in applications():
        name = cls.lower()
        out[name] = ("applications", lambda name=name, cls=cls: ensure_model(name, app_builder(cls)))
    for n in MLPS:
        out[f"mlp{n}"] = ("generated", lambda n=n: ensure_model(f"mlp{n}", lambda: residual_mlp(n)))
    for path in sorted(glob.glob(os.path.join(SAMPLES_DIR, "*.keras"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        out[f"sample:{stem}"] = ("samples", lambda path=path: path)
    return out


def select(spec: str, cat: dict) -> list[str]:
    """Resolve a --models list (names and the groups all/apps/mlps/samples) to model names."""
    groups = {"apps": "applications", "applications": "applications", "mlps": "generated", "samples": "samples"}
    names: list[str] = []
    for item in filter(None, (s.strip().lower() for s in spec.split(","))):
        if item == "all":
            names += list(cat)
        elif item in groups:
            names += [k for k, (g, _) in cat.items() if g == groups[item]]
        elif item in cat:
            names.append(item)
        elif f"sample:{item}" in cat:
            names.append(f"sample:{item}")
        else:
            hint = " (run `make samples`)" if item.startswith("sample") else ""
            sys.exit(f"unknown model {item!r}{hint}; known: all, apps, mlps, samples, {', '.join(cat)}")
    if not any(g == "samples" for g, _ in cat.values()) and any(s in spec for s in ("all", "samples")):
        print(f"  no samples in {SAMPLES_DIR}: run `make samples` to include them", file=sys.stderr)
    if not names:
        sys.exit("no models selected")
    return list(dict.fromkeys(names))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5,
                    help="runs of `inspector summary` (after a warm-up; a 0.2 s process is at the mercy of "
                         "the machine's noise, and five cost about a second)")
    ap.add_argument("--keras-runs", type=int, default=3,
                    help="runs of load_model + summary (no warm-up: the inspector's runs warmed the page cache)")
    ap.add_argument("--models", default=None, help="comma-separated names or groups (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"only {QUICK} (unless --models is given)")
    add_json_arg(ap)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cat = catalogue()
    names = select(args.models or (QUICK if args.quick else "all"), cat)
    rows, out = [], []
    for name in names:
        group, path_of = cat[name]
        try:
            path = path_of()
        except RuntimeError as e:
            print(f"  {name}: {e}", file=sys.stderr)
            rows.append([name, group, "build failed", "-", "-", "-", "-"])
            out.append(result("static_vs_keras", name, "keras load_model + summary", None, "inspector summary",
                              None, group=group, note="build failed"))
            continue
        extra = ["samples.seed_models"] if group == "samples" else []
        ours = timed(INSPECTOR + ["summary", path], args.runs)
        theirs = timed([PY, "-c", KERAS_SUMMARY, path, *extra], args.keras_runs, warmup=0)
        r = result("static_vs_keras", name, "keras load_model + summary", theirs, "inspector summary", ours,
                   group=group, file_mb=round(os.path.getsize(path) / 2**20, 1))
        out.append(r)
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] else "-"
        rows.append([name, group, fmt(ours), fmt(theirs), ratio, mb(ours), mb(theirs)])
        print(f"  {name}: inspector {fmt(ours)}s, keras {fmt(theirs)}s", file=sys.stderr, flush=True)
        write_json(args.json, out)  # after every model: a partial run still leaves its results
    write_json(args.json, out)
    print(f"## static summary vs Keras load_model + summary ({machine()}; median of {args.runs} inspector "
          f"runs, {args.keras_runs} Keras runs)\n")
    print(table(rows, ["model", "group", "inspector s", "keras s", "speed-up", "inspector MB", "keras MB"]))


if __name__ == "__main__":
    main()
