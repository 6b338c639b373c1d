"""`inspector stats MODEL -i DATA -o stats.json`: per-layer activation statistics over a data set.

The model is always run with Keras (safe mode unless ``--unsafe``); TensorFlow is
imported inside the command body only, so ``inspector --help`` stays fast.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable

import click

from inspector.errors import InspectorError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def run_options(fn: Callable) -> Callable:
    """Options of commands that run a model on data: --unsafe, --spec, --arg, -i, -b, --progress."""
    for deco in reversed([
        click.option("-i", "--input", "data", required=True, type=click.Path(path_type=str), metavar="DATA",
                     help=".npy array, .npz with arrays named after the model inputs, or a directory of images."),
        click.option("-b", "--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
                     help="Rows per model call; memory grows with it, not with the data."),
        click.option("--unsafe", is_flag=True, help="Allow Keras to run code stored in a model file (Lambda "
                                                    "bytecode). Only for files you trust."),
        click.option("--spec", "inputs", multiple=True, metavar="NAME=SHAPE[:DTYPE]",
                     help="Input spec for tracing a subclassed model, e.g. x=32,32,3 (repeatable; what "
                          "--input is in other commands)."),
        click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
                     help="Argument for the class or factory a Python spec names; VALUE is a Python literal "
                          "or a string (repeatable)."),
        click.option("--progress/--no-progress", default=None,
                     help="Progress bar on stderr (default: when stderr is a terminal)."),
    ]):
        fn = deco(fn)
    return fn


def live(opts: dict) -> dict:
    """The shared options as keyword arguments of the library functions."""
    progress = opts.get("progress")
    return {"unsafe": bool(opts.get("unsafe")), "input_specs": tuple(opts.get("inputs") or ()) or None,
            "args": tuple(opts.get("args") or ()), "batch_size": opts["batch_size"],
            "progress": sys.stderr.isatty() if progress is None else progress}


def check_data(data: str) -> None:
    """A missing DATA path fails before TensorFlow starts."""
    if not os.path.exists(data):
        raise InspectorError("no such file or directory", data)


def precheck_layers(model: str, layers: tuple[str, ...], unsafe: bool) -> None:
    """Layer names checked against a saved file's static graph, before TensorFlow is imported
    (a typo costs a fraction of a second). Python specs and model.layers indexes are checked live."""
    from inspector.readers.live.specs import is_python_spec
    from inspector.readers.source import read

    if is_python_spec(model) or not layers or not os.path.isfile(model):
        return
    g = read(model, allow_code=unsafe)
    if g.meta.get("opaque") or not len(g):
        return
    for ref in layers:
        if re.fullmatch(r"\s*-?\d+\s*", ref):
            continue
        try:
            g.resolve(ref.strip())
        except KeyError as e:
            raise InspectorError(str(e.args[0]), model) from None


@click.command(context_settings=CONTEXT)
@click.argument("model", metavar="MODEL")
@run_options
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Layer call to watch: NAME, NAME:INDEX (k-th call of a shared layer) or an index into "
                   "model.layers (repeatable; default: every layer call, inputs included).")
@click.option("--bins", type=click.IntRange(1, 256), default=32, show_default=True,
              help="Histogram bins (over the first batch's range, with under/over counts).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output .json file (written atomically).")
def stats(model: str, layers: tuple[str, ...], bins: int, output: str, **opts: Any) -> None:
    """Statistics of every layer call's output over DATA, in one streaming pass.

    Per layer call: mean, std, min, max, mean |x|, fraction of zeros, dead
    ReLU units, NaN and Inf counts and a histogram (over finite values), batch
    by batch with memory bounded by the batch size. The first layer call, in
    graph order, whose output holds a NaN or Inf is named on stderr and in the
    file. Subclassed models are run through their traced graph.

    \b
    Examples:
      inspector stats ticket.keras -i tickets.npz -o stats.json
      inspector stats cnn.keras -i images/ --layer conv1 --layer conv2 -b 64 -o stats.json
      inspector stats my_models.py:Net --spec x=32,32,3 -i x.npy -o stats.json
    """
    from inspector.atomic import check_not_input, check_writable, write_text

    data = opts["data"]
    check_not_input(output, model)
    check_not_input(output, data, what="input data")
    check_writable(output)
    check_data(data)
    precheck_layers(model, layers, bool(opts.get("unsafe")))
    from inspector.numerics.stats import dumps, run_stats

    kw = live(opts)
    result = run_stats(model, data, list(layers) or "all", bins=bins, **kw)
    write_text(output, dumps(result))
    first = result["first_nonfinite"]
    if first:
        click.echo(f"warning: first NaN/Inf in graph order: {first['node']} ({first['nan']} NaN, "
                   f"{first['inf']} Inf)", err=True)
    click.echo(f"wrote {output}: {len(result['layers'])} layer outputs over {result['rows']} rows", err=True)


COMMANDS = [stats]
