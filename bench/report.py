"""Run every bench/ script with --json and write bench/RESULTS.md (what `make bench` does).

Usage: python bench/report.py [--quick] [--models LIST] [--only static_vs_keras,scaling,...]
                              [--out bench/RESULTS.md] [--keep-json DIR] [--from-json DIR]

--quick passes --quick to every script except scaling.py (which always measures its
1k/3k/10k models); --models is passed to static_vs_keras.py. Each script's own table
is printed as it runs; a script that fails is listed as such in RESULTS.md, the others
still report, and the exit status is 1. RESULTS.md is written atomically.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PY, ROOT, table, write_atomic  # noqa: E402

BENCH = os.path.join(ROOT, "bench")
SCRIPTS = ["static_vs_keras", "render_vs_plot_model", "features_vs_predict", "features_ray", "stats_vs_predict",
           "h5lite_speed", "hub_preset_2b", "scaling"]
TITLES = {
    "static_vs_keras": ("Summary: `inspector summary` vs `keras.models.load_model` + `model.summary()`",
                        "Whole processes; Keras runs have no warm-up (the inspector's warmed the page cache). "
                        "Ratio = Keras median / inspector median. Targets (issue #2): >= 20x on every model, "
                        "NASNetLarge under 0.5 s."),
    "render_vs_plot_model": ("Render: `inspector render -o X.svg` vs `load_model` + `keras.utils.plot_model`",
                             "Whole processes; plot_model with show_shapes=True (needs pydot). "
                             "\"read\" is `inspector.read` alone. Targets (issue #3): DenseNet201 under 2 s, "
                             "the ~10k-layer model under 20 s (under 5 s with --collapse)."),
    "features_vs_predict": ("Feature extraction: `extract_features` vs Keras `predict` of the truncated model",
                            "In-process seconds per pass over the data (both build a fresh model each run). "
                            "Ratio = Keras time / ours = our throughput / Keras's. Target (issue #5): >= 0.9."),
    "features_peak_rss": ("Feature extraction: peak RSS for 1x and 10x rows",
                          "Peak RSS (VmHWM) of one fresh process each. Target (issue #5): ours grows < 10%."),
    "features_ray": ("Feature extraction on Ray: `--engine ray` vs the single-process path",
                     "Whole processes, as a user's command; the Ray sides start a local cluster and shut it down. "
                     "Every Ray output equals the single-process output bit for bit (checked by the script)."),
    "stats_vs_predict": ("Numerics: `inspector stats` (every layer call) vs Keras `predict` of a model that outputs "
                         "every layer",
                         "Seconds per pass over the data, each run a fresh process (imports and model build "
                         "untimed). Ratio = Keras time / ours = our throughput / Keras's. Target (issue #13): >= 0.8."),
    "stats_peak_rss": ("Numerics: peak RSS for 1x and 10x rows",
                       "Peak RSS (VmHWM) of one fresh process each. Target (issue #13): ours grows < 10%."),
    "hub_preset_2b": ("keras-hub preset: full-size Gemma 2B, read statically (`bench/hub_preset_2b.py`)",
                      "Sharded preset folders with Gemma 2B's dimensions written without data (float32 and "
                      "int8-quantized); `inspector summary DIR` as whole processes. Targets (issues #11, #17): "
                      "< 1 s and < 150 MB."),
    "h5lite_walk": ("Weights walk: `inspector.readers.hdf5.lite` vs h5py",
                    "CPU seconds in-process (every group and dataset shape of model.weights.h5); "
                    "\"process\" columns: fresh interpreters (imports included, median of 3). \"native visit\": "
                    "h5py's fastest way, the member extracted to a plain file, the native driver and one "
                    "C-level h5py.h5o.visit with object info; \"(file)\": h5lite on that same file."),
}
SHORT = {"static_vs_keras": ("Keras", "inspector"), "render_vs_plot_model": ("Keras", "inspector"),
         "features_vs_predict": ("Keras", "ours"), "features_peak_rss": ("Keras", "ours"),
         "h5lite_walk": ("h5py", "h5lite")}  # column labels of the baseline and our side
FRONT = {"static_vs_keras": [("group", "group", "{}"), ("file_mb", "file MB", "{:,.0f}"), ("note", "note", "{}")]}
EXTRA = {  # benchmark -> [(json key, column, format)]: after (FRONT: before) the common columns
    "render_vs_plot_model": [("read_median", "read s", "sec"), ("collapse_median", "render --collapse s", "sec"),
                             ("ratio_collapse", "ratio --collapse", "{:.1f}x")],
    "features_vs_predict": [("ours_rows_per_s", "ours rows/s", "{:,}"), ("baseline_rows_per_s", "Keras rows/s", "{:,}"),
                            ("pass", "pass", "{}")],
    "features_peak_rss": [("ours_rss_growth_pct", "ours growth %", "{:+.1f}"), ("pass", "pass", "{}")],
    "features_ray": [("ours", "side", "{}"), ("end_to_end_rows_per_s", "rows/s", "{:,.0f}"),
                     ("steady_rows_per_s", "steady rows/s", "{:,.0f}"), ("ray_init_s", "ray.init s", "sec"),
                     ("first_batch_s", "first batch s", "sec"), ("bit_identical", "same output", "{}")],
    "hub_preset_2b": [("params", "params", "{:,}"), ("shards", "shards", "{}")],
    "h5lite_walk": [("datasets", "datasets", "{}"), ("ratio_best", "ratio (best)", "{:.1f}x"),
                    ("ours_process_s", "h5lite process s", "sec"), ("baseline_process_s", "h5py process s", "sec"),
                    ("h5py_visit_s", "h5py native visit s", "sec"),
                    ("h5lite_file_process_s", "h5lite process s (file)", "sec"),
                    ("h5py_visit_process_s", "h5py native visit process s", "sec")],
}


def sec(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


def cell(fmt: str, v: object) -> str:
    if v is None:
        return "-"
    return sec(float(v)) if fmt == "sec" else fmt.format(v)


def timing(r: dict, side: str) -> str:
    m = r.get(f"{side}_median")
    if m is None:
        return "-"
    lo, hi = r.get(f"{side}_min"), r.get(f"{side}_max")
    return f"{sec(m)} ({sec(lo)}–{sec(hi)})" if lo is not None and hi is not None and lo != hi else sec(m)


def rss(r: dict, side: str) -> str:
    """Peak RSS cell; "<=N" when the child's peak was not above its parent's (see common.time_process)."""
    v = cell("{:,.0f}", r.get(f"{side}_rss_mb"))
    return f"<={v}" if r.get(f"{side}_rss_upper_bound") and v != "-" else v


def generic_table(bench: str, rows: list[dict]) -> str:
    """Markdown table: model, baseline and ours (median (min–max)), ratio, peak RSS, runs, extras."""
    base, ours = SHORT.get(bench, ("baseline", "ours"))
    cols: list[tuple[str, object]] = [("model", lambda r: str(r.get("model")))]
    cols += [(c, (lambda r, k=k, f=f: cell(f, r.get(k)))) for k, c, f in FRONT.get(bench, [])]
    cols += [(f"{base} s", lambda r: timing(r, "baseline")), (f"{ours} s", lambda r: timing(r, "ours")),
             ("ratio", lambda r: cell("{:.1f}x" if (r.get("ratio") or 0) >= 2 else "{:.2f}", r.get("ratio"))),
             (f"{base} peak MB", lambda r: rss(r, "baseline")), (f"{ours} peak MB", lambda r: rss(r, "ours")),
             ("runs (ours/baseline)", lambda r: f"{r.get('ours_runs') or '-'}/{r.get('baseline_runs') or '-'}")]
    cols += [(c, (lambda r, k=k, f=f: cell(f, r.get(k)))) for k, c, f in EXTRA.get(bench, [])]
    cells = [[fn(r) for _, fn in cols] for r in rows]
    keep = [i for i in range(len(cols)) if i == 0 or any(c[i] not in ("-", "-/-") for c in cells)]
    return table([[c[i] for i in keep] for c in cells], [cols[i][0] for i in keep])


def static_summary(rows: list[dict]) -> str:
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    if not ratios:
        return ""
    gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    worst = min((r for r in rows if r.get("ratio")), key=lambda r: r["ratio"])
    failed = [r["model"] for r in rows if not r.get("ratio")]
    out = (f"{len(rows)} models: inspector faster on {sum(x > 1 for x in ratios)}, >= 20x on "
           f"{sum(x >= 20 for x in ratios)}; geometric-mean speed-up {gm:.1f}x, lowest {worst['ratio']:.1f}x "
           f"({worst['model']}).")
    groups = list(dict.fromkeys(r.get("group") for r in rows if r.get("ratio")))
    if len(groups) > 1:
        parts = []
        for g in groups:
            gr = [r["ratio"] for r in rows if r.get("group") == g and r.get("ratio")]
            gm_g = math.exp(sum(math.log(x) for x in gr) / len(gr))
            parts.append(f"{g} ({len(gr)}): geometric mean {gm_g:.1f}x, range {min(gr):.1f}x–{max(gr):.1f}x")
        out += " By group: " + "; ".join(parts) + "."
    nas = [r for r in rows if r["model"] == "nasnetlarge" and r.get("ours_median")]
    if nas:
        out += f" NASNetLarge summary: {nas[0]['ours_median']:.2f} s (target < 0.5 s)."
    if failed:
        out += f" Failed (either side): {', '.join(failed)}."
    return out


def scaling_section(rows: list[dict], png_rel: str) -> str:
    pts = [r for r in rows if r["benchmark"] == "scaling"]
    fits = [r for r in rows if r["benchmark"] == "scaling_fit"]
    by_layers: dict[int, dict[str, dict]] = {}
    for r in pts:
        by_layers.setdefault(r["layers"], {})[r["command"]] = r
    trows = []
    for nl in sorted(by_layers):
        s, g = by_layers[nl].get("summary", {}), by_layers[nl].get("render", {})
        def per(r):
            return ("-" if r.get("ours_median") is None else f"{1000 * r['ours_median'] / nl:.3f}")
        trows.append([f"{nl:,}", timing(s, "ours"), per(s), rss(s, "ours"), timing(g, "ours"), per(g),
                      rss(g, "ours")])
    out = ["## Scaling with layer count (generated residual MLPs)", "",
           "Whole processes, median (min–max) of the runs after a warm-up; peak RSS via wait4 "
           "(a render's includes Graphviz's `dot`).", "",
           table(trows, ["layers", "summary s", "summary s / 1k layers", "summary peak MB", "render s",
                         "render s / 1k layers", "render peak MB"]), ""]
    out += [f"- {f['text']}" for f in fits]
    out += ["", f"![scaling]({png_rel})", ""]
    return "\n".join(out)


def versions() -> list[list[str]]:
    def v(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        p = subprocess.run(["dot", "-V"], capture_output=True, text=True)
        dot = (p.stderr or p.stdout).strip() or "?"
    except OSError:
        dot = "not found"
    return [["python", sys.version.split()[0]], ["tensorflow", v("tensorflow")], ["keras", v("keras")],
            ["graphviz", dot], ["keras-graph-inspector (ours)", v("keras-graph-inspector")],
            ["h5py", v("h5py")], ["numpy", v("numpy")], ["pydot", v("pydot")], ["matplotlib", v("matplotlib")]]


def machine_rows() -> list[list[str]]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [["CPU", cpu], ["cores", str(os.cpu_count())], ["memory", f"{mem:.1f} GiB"],
            ["OS", platform.platform()]]


def run_scripts(args: argparse.Namespace, names: list[str], jdir: str) -> tuple[list[list[str]], list[dict], bool]:
    """Run each script with --json into ``jdir`` (or, with --from-json, only read its file there)."""
    runs: list[list[str]] = []
    rows: list[dict] = []
    failed = False
    for name in names:
        jpath = os.path.join(jdir, f"{name}.json")
        cmd = [PY, os.path.join(BENCH, f"{name}.py"), "--json", jpath]
        if args.quick and name != "scaling":
            cmd.append("--quick")
        if args.models and name == "static_vs_keras":
            cmd += ["--models", args.models]
        rc, took = 0, 0.0
        if not args.from_json:
            print(f"\n=== {name}: {shlex.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            rc = subprocess.run(cmd, cwd=ROOT).returncode
            took = time.perf_counter() - t0
        got: list[dict] = []
        if os.path.exists(jpath):
            with open(jpath) as f:
                got = json.load(f)
        elif args.from_json:
            rc = -1
        failed |= rc != 0
        rows += got
        status = "ok" if rc == 0 else f"FAILED (exit {rc}; {len(got)} rows written before)"
        shown = ["python", f"bench/{name}.py", *cmd[4:]]
        runs.append([f"`{name}.py`", f"`{shlex.join(shown)}`", status,
                     "(from JSON)" if args.from_json else f"{took / 60:.1f} min"])
    return runs, rows, failed


def models_run(rows: list[dict]) -> list[str]:
    """One markdown bullet per benchmark naming the models it measured."""
    out = []
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        if bench == "scaling_fit":
            continue
        names = list(dict.fromkeys(str(r.get("model")) for r in rows if r["benchmark"] == bench))
        out.append(f"- {bench} ({len(names)}): {', '.join(names)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script but scaling.py")
    ap.add_argument("--models", help="passed to static_vs_keras.py --models")
    ap.add_argument("--only", help=f"comma-separated scripts to run (default: {','.join(SCRIPTS)})")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--keep-json", metavar="DIR", help="keep the scripts' JSON files in DIR")
    ap.add_argument("--from-json", metavar="DIR", help="run nothing: rewrite RESULTS.md from a --keep-json DIR")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else SCRIPTS
    unknown = set(only) - set(SCRIPTS)
    if unknown:
        sys.exit(f"unknown script(s) {', '.join(sorted(unknown))}; known: {', '.join(SCRIPTS)}")
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    names = [s for s in SCRIPTS if s in only]
    if args.from_json:
        runs, rows, failed = run_scripts(args, names, args.from_json)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
            jdir = args.keep_json or tmp
            os.makedirs(jdir, exist_ok=True)
            runs, rows, failed = run_scripts(args, names, jdir)
    load1 = os.getloadavg()
    subset = args.quick or args.models or args.only
    md = ["# Benchmark results", "",
          f"Generated {started:%Y-%m-%d %H:%M %Z} by `bench/report.py` (`make bench`)"
          + (f" — **subset run**: `{shlex.join(['bench/report.py'] + sys.argv[1:])}`; the tables list exactly "
             "the models that were run." if subset else " — full run."), "",
          "Timings on a shared machine are noisy; ratios compare both sides measured in the same run. "
          f"Load average (1 min) {load0[0]:.1f} at the start, {load1[0]:.1f} at the end. "
          "Peak MB: whole-process peak RSS from wait4 (the process or its largest waited-for child); "
          "a child's peak cannot be told below its parent's, shown as \"<=N\" (\"-\" in older runs).", "",
          "## Machine", "", table(machine_rows(), ["", ""]), "",
          "## Versions", "", table(versions(), ["", "version"]), "",
          "## Scripts run", "", table(runs, ["script", "command", "status", "took"]), "",
          "Models run:", "", *models_run(rows), ""]
    order = list(dict.fromkeys(r["benchmark"] for r in rows))
    for bench in order:
        if bench.startswith("scaling"):
            continue
        brows = [r for r in rows if r["benchmark"] == bench]
        title, note = TITLES.get(bench, (bench, ""))
        sides = f"Baseline: {brows[0].get('baseline')}; ours: {brows[0].get('ours')}."
        if any(r.get("ours_median") is not None for r in brows):
            sides += " Times: median (min–max) s."
        md += [f"## {title}", "", note, sides, "", generic_table(bench, brows), ""]
        if bench == "static_vs_keras":
            md += [static_summary(brows), ""]
    if any(r["benchmark"] == "scaling" for r in rows):
        png = os.path.join(BENCH, "scaling.png")
        md.append(scaling_section(rows, os.path.relpath(png, os.path.dirname(os.path.abspath(args.out)))))
    write_atomic(args.out, "\n".join(md).rstrip() + "\n")
    print(f"\nwrote {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
