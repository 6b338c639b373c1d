"""`inspector graft`: new Dense heads added at a layer of a model, original weights kept."""
from __future__ import annotations

from typing import Any

import click

from inspector.cli.common import model_options
from inspector.cli.params import HEAD
from inspector.cli.submodels import CONTEXT, check_output, describe, live_kwargs, save_all, say


@click.command(context_settings=CONTEXT)
@model_options
@click.option("--at", "at", required=True, metavar="LAYER", help="Layer whose output the new heads read.")
@click.option("--head", "heads", multiple=True, required=True, type=HEAD, metavar="NAME:UNITS[:ACTIVATION]",
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
def graft(model: str, at: str, heads: tuple[Any, ...], keep_outputs: bool, pool: str, seed: int | None,
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
    from inspector.extract.graft import graft as do_graft
    from inspector.extract.graft import parse_heads

    check_output(output, model)
    # names given twice are refused here; sizes once the width at LAYER is known (the saved graph's)
    specs = parse_heads(heads, model, cap_units=False)
    new = do_graft(model, at, specs, keep_outputs=keep_outputs, pool=pool, seed=seed, **live_kwargs(opts))
    save_all([(new, output)])
    say(f"wrote {output}\n  {describe(new)}")


COMMANDS = [graft]
