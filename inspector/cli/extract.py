"""`inspector extract`: a submodel (feature extractor, or the tail of a split) saved as a model file.

The sibling commands of the seed's feature-extraction section live in their own modules
(:mod:`inspector.cli.graft`, :mod:`inspector.cli.features`); ``COMMANDS`` lists all three.
"""
from __future__ import annotations

from typing import Any

import click

from inspector.cli.common import model_options
from inspector.cli.features import features
from inspector.cli.graft import graft
from inspector.cli.submodels import CONTEXT, check_output, describe, live_kwargs, say
from inspector.cli.submodels import save_all as _save_all  # the all-or-nothing save (tests/cli use this name)
from inspector.errors import InspectorError


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

    if bool(layers) == bool(cut):
        raise InspectorError("give either --layer (extract features) or --from (split), not both or neither")
    if (to or head_output is not None) and not cut:
        raise InspectorError("--to and --head-output only make sense with --from")
    outputs = [output] + ([head_output] if head_output is not None else [])
    for out in outputs:
        check_output(out, model)
    check_distinct(*outputs)
    if layers:
        _save_extractor(model, layers, output, opts)
    else:
        _save_split(model, cut, to, output, head_output, opts)


def _save_extractor(model: str, layers: tuple[str, ...], output: str, opts: dict) -> None:
    from inspector.extract.submodel import HookExtractor, build_extractor

    ext = build_extractor(model, list(layers), **live_kwargs(opts))
    if isinstance(ext.model, HookExtractor):
        raise InspectorError(f"cannot save an extractor for a model with no layer graph ({ext.model.why}); "
                             "`inspector features` can still run it (through an eager forward pass)", model)
    _save_all([(ext.model, output)])
    say(f"wrote {output}\n  {describe(ext.model)}")


def _save_split(model: str, cut: tuple[str, ...], to: tuple[str, ...], output: str, head_output: str | None,
                opts: dict) -> None:
    from inspector.extract.split import split

    parts = split(model, list(cut), list(to) or None, **live_kwargs(opts))
    _save_all([(parts.tail, output)] + ([(parts.head, head_output)] if head_output is not None else []))
    lines = [f"wrote {output}" + (f" and {head_output}" if head_output else ""),
             "  tail inputs (the head's outputs, by name):"]
    width = max(len(f"{b.key} {b.shape}") for b in parts.boundary)
    for b in parts.boundary:
        readers = ", ".join(b.consumers) or "the outputs"
        why = {"cut": f"cut, read by {readers}", "extra": f"extra: also needed by {readers}",
               "input": f"model input, needed by {readers}"}[b.role]
        lines.append(f"    {f'{b.key} {b.shape}'.ljust(width)}  {why}")
    say("\n".join(lines))


COMMANDS = [extract, graft, features]
