"""How `inspector summary` and `inspector render -o X.svg` scale with the layer count.

Usage: python bench/scaling.py [--sizes 1000,3000,10000] [--runs 3] [--png bench/scaling.png] [--json PATH]

Models: the generated residual MLPs of bench/common.py (`residual_mlp(n)`: an Input,
n/2 Dense and n/2 Add layers), cached under bench/.cache as mlp<n>.keras. Each command
is a whole process, timed `--runs` times after a warm-up (median, min, max), with its
peak RSS from wait4 (a render's includes Graphviz's `dot`). A least-squares line
time = a + b * layers is fitted per command; "near-linear" means R^2 >= 0.98 and the
per-layer cost of the last size step (3k -> 10k) at most 2x that of the first (1k -> 3k):
a cost growing with layers^2 would give 3.25x, a linear one 1x.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    INSPECTOR,
    ROOT,
    add_json_arg,
    ensure_model,
    machine,
    mb,
    residual_mlp,
    result,
    table,
    timed,
    write_json,
)

COMMANDS = {"summary": lambda path, svg: ["summary", path],
            "render": lambda path, svg: ["render", path, "-o", svg]}


def fit(xs: list[float], ys: list[float]) -> dict:
    """Least-squares line y = a + b x: intercept, slope, R^2, and the slopes of consecutive steps."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    steps = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(n - 1)]
    return {"intercept_s": a, "slope_s_per_1k": b * 1000, "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
            "step_slopes_s_per_1k": [s * 1000 for s in steps],
            "step_ratio": steps[-1] / steps[0] if len(steps) > 1 and steps[0] > 0 else None,
            "per_layer_ratio": (ys[-1] / xs[-1]) / (ys[0] / xs[0]) if ys[0] else None}


def verdict(f: dict) -> str:
    step_ok = f["step_ratio"] is None or f["step_ratio"] <= 2.0
    return "near-linear" if f["r2"] >= 0.98 and step_ok else "not linear"


def describe(cmd: str, f: dict) -> str:
    steps = ", ".join(f"{s:.3f}" for s in f["step_slopes_s_per_1k"])
    ratio = f"{f['step_ratio']:.2f}" if f["step_ratio"] is not None else "-"
    return (f"{cmd}: time ~ {f['intercept_s']:.3f} s + {f['slope_s_per_1k']:.3f} s per 1k layers, "
            f"R^2 = {f['r2']:.4f}; per-1k-layer cost of each size step: {steps} s (last/first {ratio}); "
            f"time per layer, largest/smallest model: {f['per_layer_ratio']:.2f} -> {verdict(f)}")


def plot(png: str, layers: list[int], res: dict, fits: dict) -> None:
    """Two panels (time, peak RSS) against layers, written atomically to ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for cmd, marker in (("summary", "o"), ("render", "s")):
        ts = res[cmd]
        ok = [(n, t) for n, t in zip(layers, ts) if t]
        if not ok:
            continue
        xs = [n for n, _ in ok]
        med = [t["median"] for _, t in ok]
        err = [[t["median"] - t["min"] for _, t in ok], [t["max"] - t["median"] for _, t in ok]]
        ax_t.errorbar(xs, med, yerr=err, marker=marker, capsize=3, label=f"inspector {cmd}")
        if cmd in fits:
            f = fits[cmd]
            line = [f["intercept_s"] + f["slope_s_per_1k"] * n / 1000 for n in xs]
            ax_t.plot(xs, line, ":", color="gray")
        rss = [(n, t["rss_kb"] / 1024) for n, t in ok if t.get("rss_kb")]
        if rss:
            ax_m.plot([n for n, _ in rss], [m for _, m in rss], marker=marker, label=f"inspector {cmd}")
    ax_t.set(title="wall time (median of runs; bars: min-max; dotted: linear fit)", xlabel="layers",
             ylabel="seconds")
    ax_m.set(title="peak RSS (wait4: the process or its largest child)", xlabel="layers", ylabel="MB")
    for ax in (ax_t, ax_m):
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"inspector scaling on generated residual MLPs ({machine()})", fontsize=10)
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(png))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".scaling-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=110)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, png)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,3000,10000", help="nominal layer counts of the generated MLPs")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each command (after a warm-up)")
    ap.add_argument("--png", default=os.path.join(ROOT, "bench", "scaling.png"))
    add_json_arg(ap)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    layers = [2 * (n // 2) + 1 for n in sizes]  # Input + n/2 Dense + n/2 Add
    res: dict[str, list[dict | None]] = {cmd: [] for cmd in COMMANDS}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        for n, nl in zip(sizes, layers):
            path = ensure_model(f"mlp{n}", lambda n=n: residual_mlp(n))
            for cmd, argv in COMMANDS.items():
                print(f"  mlp{n}: inspector {cmd} ...", file=sys.stderr, flush=True)
                t = timed(INSPECTOR + argv(path, os.path.join(tmp, f"mlp{n}.svg")), args.runs)
                res[cmd].append(t)
                rows.append(result("scaling", f"mlp{n}", None, None, f"inspector {cmd}", t, layers=nl,
                                   command=cmd))
    fits: dict[str, dict] = {}
    for cmd in COMMANDS:
        pts = [(nl, t["median"]) for nl, t in zip(layers, res[cmd]) if t]
        if len(pts) >= 2:
            fits[cmd] = fit([p[0] for p in pts], [p[1] for p in pts])
            rows.append({"benchmark": "scaling_fit", "command": cmd, "ours": f"inspector {cmd}",
                         **{k: v for k, v in fits[cmd].items()}, "verdict": verdict(fits[cmd]),
                         "text": describe(cmd, fits[cmd])})
    write_json(args.json, rows)

    def cell(t: dict | None) -> str:
        return "failed" if t is None else f"{t['median']:.2f} ({t['min']:.2f}-{t['max']:.2f})"

    def per_1k(t: dict | None, nl: int) -> str:
        return "-" if t is None else f"{1000 * t['median'] / nl:.3f}"

    trows = [[f"{nl:,}", cell(s), per_1k(s, nl), mb(s), cell(r), per_1k(r, nl), mb(r)]
             for nl, s, r in zip(layers, res["summary"], res["render"])]
    print(f"## inspector scaling with layer count ({machine()}; median (min-max) of {args.runs} runs)\n")
    print(table(trows, ["layers", "summary s", "summary s/1k layers", "summary peak MB", "render s",
                        "render s/1k layers", "render peak MB"]))
    print()
    for cmd, f in fits.items():
        print(describe(cmd, f))
    plot(args.png, layers, res, fits)
    print(f"\nplot: {os.path.relpath(args.png, ROOT)}")


if __name__ == "__main__":
    main()
