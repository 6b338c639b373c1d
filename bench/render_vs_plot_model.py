"""`inspector render X.svg` vs `keras.models.load_model` + `keras.utils.plot_model`, whole process.

Usage: python bench/render_vs_plot_model.py [--runs N] [--keras-runs N] [--models resnet50,densenet201,blocks10k]
                                           [--quick] [--json PATH]

Targets (issue #3): DenseNet201 under 2 s; the ~10,000-layer generated model
under 20 s, and under 5 s with --collapse (Keras: ~41 s load + ~93 s plot_model).
Ratios are measured in the same run. Keras's side needs `pydot` (pip install pydot);
plot_model runs with show_shapes=True, as the issue states. A Keras run that
crashes (Graphviz aborting on plot_model's ortho splines) is reported as such.
The "read" column is the static reader alone (`inspector.read`), so the part of a
render that is drawing can be told apart. Keras runs get no warm-up (the inspector's
runs on the same file warmed the page cache). --quick runs resnet50 only.
Peak RSS of a render includes Graphviz's `dot` (a waited-for child).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    INSPECTOR,
    PY,
    add_json_arg,
    ensure_model,
    fmt,
    keras_child,
    machine,
    mb,
    result,
    table,
    timed,
    write_json,
)

KERAS_PLOT = keras_child("""
    import keras
    m = keras.models.load_model(sys.argv[1], compile=False)
    keras.utils.plot_model(m, to_file=sys.argv[2], show_shapes=True)
""")

READ_ONLY = "import sys, inspector; inspector.read(sys.argv[1])"


def blocks(n_blocks: int, width: int = 8):
    """Generated residual model: n_blocks x (Dense, BatchNorm, ReLU, Add), block-named like Keras apps."""
    import keras
    from keras import layers

    x = inp = keras.Input((width,), name="input")
    for i in range(1, n_blocks + 1):
        h = layers.Dense(width, name=f"block{i}_dense")(x)
        h = layers.BatchNormalization(name=f"block{i}_bn")(h)
        h = layers.Activation("relu", name=f"block{i}_relu")(h)
        x = layers.Add(name=f"block{i}_add")([x, h])
    out = layers.Dense(2, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=f"blocks{4 * n_blocks + 2}")


def builders() -> dict:
    def app(name: str):
        def build():
            import keras

            return getattr(keras.applications, name)(weights=None)
        return build

    return {"resnet50": app("ResNet50"), "densenet201": app("DenseNet201"), "blocks10k": lambda: blocks(2500)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of each inspector command (after a warm-up)")
    ap.add_argument("--keras-runs", type=int, default=3, help="runs of load_model + plot_model")
    ap.add_argument("--models", default=None, help="default: resnet50,densenet201,blocks10k")
    ap.add_argument("--quick", action="store_true", help="only resnet50 (unless --models is given)")
    add_json_arg(ap)
    args = ap.parse_args()
    args.models = args.models or ("resnet50" if args.quick else "resnet50,densenet201,blocks10k")
    try:
        import pydot  # noqa: F401
    except ImportError:
        sys.exit("plot_model needs pydot: pip install pydot")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    b = builders()
    rows, out_rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as out:
        for name in args.models.split(","):
            path = ensure_model(name, b[name])
            svg = os.path.join(out, f"{name}.svg")
            print(f"  {name}: inspector ...", file=sys.stderr, flush=True)
            read = timed([PY, "-c", READ_ONLY, path], args.runs)
            ours = timed(INSPECTOR + ["render", path, "-o", svg], args.runs)
            collapsed = timed(INSPECTOR + ["render", path, "-o", svg, "--collapse"], args.runs)
            print(f"  {name}: keras load_model + plot_model ...", file=sys.stderr, flush=True)
            theirs = timed([PY, "-c", KERAS_PLOT, path, os.path.join(out, f"{name}.keras.png")], args.keras_runs,
                           warmup=0)
            ratio = f"{theirs['median'] / ours['median']:.1f}x" if theirs and ours else "-"
            ratio_c = f"{theirs['median'] / collapsed['median']:.1f}x" if theirs and collapsed else "-"
            rows.append([name, fmt(read), fmt(ours), fmt(collapsed), fmt(theirs), ratio, ratio_c,
                         mb(ours), mb(theirs)])
            out_rows.append(result(
                "render_vs_plot_model", name, "keras load_model + plot_model", theirs, "inspector render", ours,
                read_median=read and read["median"], collapse_median=collapsed and collapsed["median"],
                ratio_collapse=round(theirs["median"] / collapsed["median"], 3) if theirs and collapsed else None))
            write_json(args.json, out_rows)
    print(f"## render vs Keras load_model + plot_model(show_shapes=True) ({machine()}; "
          f"median of {args.runs} inspector runs, {args.keras_runs} Keras run(s))\n")
    print(table(rows, ["model", "read s", "render s", "render --collapse s", "keras s", "speed-up",
                       "speed-up --collapse", "render MB", "keras MB"]))
    write_json(args.json, out_rows)


if __name__ == "__main__":
    main()
