"""`inspector summary` vs `keras.models.load_model` + `model.summary()`, whole process.

Usage: python bench/static_vs_keras.py [--runs N] [--models resnet50,nasnetlarge,mlp3000]

Targets (issue #2): NASNetLarge summary under 0.5 s wall; at least 20x faster
than Keras on every model. Keras needs a raised recursion limit (and a big
thread stack) even to load the 3,000-layer model; the inspector does not.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import INSPECTOR, PY, ensure_model, keras_env, machine, residual_mlp, table, time_process  # noqa: E402

KERAS_SUMMARY = r"""
import os, sys, threading
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.setrecursionlimit(200000)
threading.stack_size(1024 * 1024 * 1024)
def go():
    import keras
    m = keras.models.load_model(sys.argv[1], compile=False)
    m.summary(print_fn=lambda *a, **k: None)
t = threading.Thread(target=go); t.start(); t.join()
"""


def builders() -> dict:
    def app(name: str, **kw):
        def build():
            import keras

            return getattr(keras.applications, name)(weights=None, **kw)
        return build

    return {
        "resnet50": app("ResNet50"),
        "nasnetlarge": app("NASNetLarge"),
        "mlp3000": lambda: residual_mlp(3000),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="resnet50,nasnetlarge,mlp3000")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    b = builders()
    rows = []
    for name in args.models.split(","):
        path = ensure_model(name, b[name])
        ours = time_process(INSPECTOR + ["summary", path], args.runs, env=keras_env())
        theirs = time_process([PY, "-c", KERAS_SUMMARY, path], args.runs, env=keras_env())
        ratio = theirs["median"] / ours["median"]
        rows.append([name, f"{ours['median']:.2f}", f"{theirs['median']:.2f}", f"{ratio:.1f}x",
                     f"{ours['rss_kb'] / 1024:.0f}", f"{theirs['rss_kb'] / 1024:.0f}"])
        print(f"  {name}: inspector {ours['median']:.2f}s, keras {theirs['median']:.2f}s", file=sys.stderr)
    print(f"## static summary vs Keras load_model + summary ({machine()}; median of {args.runs} runs)\n")
    print(table(rows, ["model", "inspector s", "keras s", "speed-up", "inspector MB", "keras MB"]))


if __name__ == "__main__":
    main()
