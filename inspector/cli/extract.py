"""`inspector extract`, `inspector graft`, `inspector features`: the seed's feature-extraction section as commands.

These commands always load the model with Keras (safe mode unless ``--unsafe``);
TensorFlow is imported inside the command bodies only, so ``inspector --help``
stays fast.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import click

from inspector.cli.common import model_options
from inspector.errors import InspectorError
from inspector.readers.live.specs import is_python_spec

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MODEL_SUFFIXES = (".keras", ".h5")


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _shape(t: Any) -> str:
    return str(tuple(t.shape))


def _check_output(output: str, model: str) -> None:
    """Refuse a bad output path before the (slow) model load, not after."""
    from inspector.atomic import check_not_input, check_writable

    check_not_input(output, model)
    if not output.endswith(MODEL_SUFFIXES):
        raise InspectorError("output must end in .keras (or .h5)", output)
    check_writable(output)


def _save(model: Any, tmp: str) -> None:
    """``model.save`` to a temp path; the .h5 the user asked for gets no "legacy format" absl warning."""
    if not tmp.endswith(".h5"):
        model.save(tmp)
        return
    from absl import logging

    level = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        model.save(tmp)
    finally:
        logging.set_verbosity(level)


def _save_all(pairs: list[tuple[Any, str]]) -> None:
    """Save every ``(model, path)`` atomically, all or none: each goes to a temp file beside its
    target, and the temp files are renamed only when every save has succeeded."""
    import contextlib

    from inspector.atomic import atomic_path

    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(out)) for _, out in pairs]
        for (model, _), tmp in zip(pairs, tmps):
            _save(model, tmp)


def _precheck(model: str, opts: dict, refs: tuple[str, ...]) -> Any:
    """Check layer names against the saved file's static graph before TensorFlow is imported.

    A typo then costs a fraction of a second, not a TensorFlow start-up. Python
    specs, models without a layer graph and ``model.layers`` indexes are left to
    the live checks (the same rules, on the loaded model). Returns the static
    graph, or None when there is none to check against.
    """
    import re

    import inspector

    if is_python_spec(model):
        return None
    g = inspector.read(model, allow_code=bool(opts.get("unsafe")))
    if g.meta.get("opaque") or not len(g):
        return None
    for ref in refs:
        if re.fullmatch(r"\s*-?\d+\s*", ref):
            continue
        try:
            g.resolve(ref.strip())
        except KeyError as e:
            raise InspectorError(str(e.args[0]), model) from None
    return g


def _describe(model: Any) -> str:
    ins = ", ".join(f"{t.name} {_shape(t)}" for t in model.inputs)
    outs = model.output
    if isinstance(outs, dict):
        o = ", ".join(f"{k} {_shape(v)}" for k, v in outs.items())
    else:
        flat = outs if isinstance(outs, (list, tuple)) else [outs]
        o = ", ".join(f"{t._keras_history[0].name} {_shape(t)}" for t in flat)
    return f"inputs: {ins}\n  outputs: {o}"


def _live(opts: dict) -> dict:
    """The shared model options as keyword arguments of the library functions."""
    return {"unsafe": opts.get("unsafe", False), "input_specs": tuple(opts.get("inputs") or ()) or None,
            "args": tuple(opts.get("args") or ())}


@click.command(context_settings=CONTEXT)
@model_options
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Layer whose output to extract: NAME, NAME:INDEX (k-th call of a shared layer) or an "
                   "index into model.layers (repeatable; several give a dict of outputs).")
@click.option("--from", "cut", multiple=True, metavar="LAYER",
              help="Split: save the tail that starts at LAYER's output (repeatable).")
@click.option("--to", "to", multiple=True, metavar="LAYER",
              help="With --from: end the tail at LAYER instead of the model outputs (repeatable).")
@click.option("--head-output", metavar="FILE",
              help="With --from: also save the head (model inputs -> the tensors the tail takes).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output model file (.keras).")
def extract(model: str, layers: tuple[str, ...], cut: tuple[str, ...], to: tuple[str, ...],
            head_output: str | None, output: str, **opts: Any) -> None:
    """Save a submodel cut out of MODEL, sharing its weights.

    With --layer: outputs are the named layers' outputs, inputs only the model
    inputs those layers depend on. With --from: the other half of a split, a
    model whose inputs take LAYER's output (plus any other tensor the rest of
    the graph needs, e.g. a residual shortcut; they are listed) and which runs
    the remaining layers, so tail(head(x)) == model(x).

    \b
    Examples:
      inspector extract ticket.keras --layer dense -o features.keras
      inspector extract ticket.keras --layer 4 -o features.keras      # model.layers[4]
      inspector extract resnet.keras --layer conv3_block1_out --layer conv4_block1_out -o multi.keras
      inspector extract resnet.keras --from conv4_block1_out -o tail.keras --head-output head.keras
    """
    from inspector.atomic import check_distinct
    from inspector.extract.submodel import HookExtractor, build_extractor, split

    if bool(layers) == bool(cut):
        raise InspectorError("give either --layer (extract features) or --from (split), not both or neither")
    if (to or head_output is not None) and not cut:
        raise InspectorError("--to and --head-output only make sense with --from")
    outputs = [output] + ([head_output] if head_output is not None else [])
    for out in outputs:
        _check_output(out, model)
    check_distinct(*outputs)
    _precheck(model, opts, layers + cut + to)
    if layers:
        ext = build_extractor(model, list(layers), **_live(opts))
        if isinstance(ext.model, HookExtractor):
            raise InspectorError(f"cannot save an extractor for a model with no layer graph ({ext.model.why}); "
                                 "`inspector features` can still run it (through an eager forward pass)", model)
        _save_all([(ext.model, output)])
        _say(f"wrote {output}\n  {_describe(ext.model)}")
        return
    parts = split(model, list(cut), list(to) or None, **_live(opts))
    _save_all([(parts.tail, output)] + ([(parts.head, head_output)] if head_output is not None else []))
    lines = [f"wrote {output}" + (f" and {head_output}" if head_output else ""),
             "  tail inputs (the head's outputs, by name):"]
    width = max(len(f"{b.key} {b.shape}") for b in parts.boundary)
    for b in parts.boundary:
        readers = ", ".join(b.consumers) or "the outputs"
        why = {"cut": f"cut, read by {readers}", "extra": f"extra: also needed by {readers}",
               "input": f"model input, needed by {readers}"}[b.role]
        lines.append(f"    {f'{b.key} {b.shape}'.ljust(width)}  {why}")
    _say("\n".join(lines))


@click.command(context_settings=CONTEXT)
@model_options
@click.option("--at", "at", required=True, metavar="LAYER", help="Layer whose output the new heads read.")
@click.option("--head", "heads", multiple=True, required=True, metavar="NAME:UNITS[:ACTIVATION]",
              help="A new Dense head, e.g. difficulty:3:softmax (repeatable).")
@click.option("--keep-outputs/--only-heads", default=True, show_default=True,
              help="Keep the original outputs next to the heads, or output the heads only.")
@click.option("--pool", type=click.Choice(["auto", "avg", "max", "flatten", "none"]), default="auto",
              show_default=True, help="How a feature map (rank > 2) becomes a vector before the heads; "
                                      "auto = global average pooling.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,
              help="Random seed for the new heads' initial weights (0 .. 2**32-1).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output model file (.keras).")
def graft(model: str, at: str, heads: tuple[str, ...], keep_outputs: bool, pool: str, seed: int | None,
          output: str, **opts: Any) -> None:
    """Add new output heads at a layer of MODEL; original weights are kept as they are.

    The seed's difficulty example: the customer-ticket model gets a third
    output reading the intermediate Dense features. New heads are freshly
    initialised; the result loads, compiles and trains like any Keras model.

    \b
    Examples:
      inspector graft ticket.keras --at dense --head difficulty:3:softmax -o ticket_difficulty.keras
      inspector graft resnet.keras --at conv4_block6_out --head cls:10:softmax --only-heads -o small.keras
    """
    from inspector.extract.graft import check_head_names, check_head_size, parse_heads, pooled_width
    from inspector.extract.graft import graft as do_graft

    _check_output(output, model)
    specs = parse_heads(heads, model, cap_units=False)   # the saved graph may give the exact size below
    g = _precheck(model, opts, (at,))
    if g is not None:   # the saved graph knows the names and the width at LAYER: no TensorFlow needed yet
        check_head_names(specs, {a.get("name") for _, a in g.nx.nodes(data=True)}, model)
        shapes = [] if at.strip().lstrip("-").isdigit() else g.nx.nodes[g.resolve(at.strip())].get("output_shapes")
        if shapes and len(shapes) == 1 and shapes[0]:
            for spec in specs:
                check_head_size(spec, pooled_width(shapes[0], pool), model)
    new = do_graft(model, at, specs, keep_outputs=keep_outputs, pool=pool, seed=seed, **_live(opts))
    _save_all([(new, output)])
    _say(f"wrote {output}\n  {_describe(new)}")


def _feature_options(fn: Callable) -> Callable:
    """MODEL and the live-model options, with --spec for trace shapes (--input here is the data)."""
    for deco in reversed([
        click.argument("model", metavar="MODEL"),
        click.option("--load", is_flag=True, hidden=True, help="Accepted for uniformity; the model is always loaded."),
        click.option("--unsafe", is_flag=True, help="Allow Keras to run code stored in the file (Lambda "
                                                    "bytecode). Only for files you trust."),
        click.option("--spec", "inputs", multiple=True, metavar="NAME=SHAPE[:DTYPE]",
                     help="Input spec for tracing a subclassed model, e.g. x=32,32,3 (repeatable; what "
                          "--input is in other commands)."),
        click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
                     help="Argument for the class or factory a Python spec MODEL names; VALUE is a "
                          "Python literal or a string (repeatable)."),
    ]):
        fn = deco(fn)
    return fn


@click.command(context_settings=CONTEXT)
@_feature_options
@click.option("--layer", "layers", multiple=True, required=True, metavar="NAME",
              help="Layer whose output to compute (repeatable; several need an .npz output).")
@click.option("-i", "--input", "data", required=True, type=click.Path(path_type=str), metavar="DATA",
              help=".npy array, .npz with arrays named after the model inputs, or a directory of images.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output .npy (one output) or .npz (arrays named after the layers).")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Rows per model call; memory grows with it, not with the data.")
@click.option("--shard", metavar="K/N", help="Process only the K-th of N contiguous slices (K from 0) and write "
                                             "OUT-0000K-of-0000N.npy; see README for merging the parts.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def features(model: str, layers: tuple[str, ...], data: str, output: str, batch_size: int, shard: str | None,
             progress: bool | None, **opts: Any) -> None:
    """Run a feature extractor over DATA, batch by batch, into an .npy/.npz file.

    Memory stays bounded by the batch size: arrays are read a batch at a time
    and the output is written through a memory map. Input names and shapes are
    checked before the first batch. An interrupted run leaves no output file.

    \b
    Examples:
      inspector features ticket.keras --layer dense --input tickets.npz -o feats.npy
      inspector features resnet.keras --layer avg_pool --input photos/ -o emb.npy -b 64
      inspector features resnet.keras --layer avg_pool --input big.npy -o emb.npy --shard 3/8
    """
    from inspector.extract.features import extract_features

    _precheck(model, opts, layers)
    if progress is None:
        progress = sys.stderr.isatty()
    r = extract_features(model, list(layers), data, output, batch_size=batch_size, shard=shard,
                         progress=progress, **_live(opts))
    shapes = ", ".join(f"{k} {v}" for k, v in r.outputs.items())
    rate = r.rows / r.seconds if r.seconds > 0 else 0.0
    _say(f"wrote {r.path}: rows {r.start}..{r.start + r.rows} ({shapes}) in {r.seconds:.1f}s, {rate:,.0f} rows/s")


COMMANDS = [extract, graft, features]
