"""`inspector diff A B`: structural differences between two models."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from inspector.cli.common import ALLOW_CODE, open_graph

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(context_settings=CONTEXT)
@click.argument("model_a", metavar="A")
@click.argument("model_b", metavar="B")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--exit-code", is_flag=True, help="Exit with 1 when the models differ (like `diff`).")
@click.option("--load", is_flag=True,
              help="Load model files with Keras (safe mode) instead of reading them statically; "
                   "shows custom model classes' graphs.")
@click.option("--input", "inputs", multiple=True, metavar="NAME=SHAPE[:DTYPE]",
              help="Input of a subclassed model to trace (A or B given as Python code), e.g. x=32,32,3 "
                   "(repeatable).")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the class or factory a Python spec names (repeatable).")
@ALLOW_CODE
def diff(model_a: str, model_b: str, fmt: str, exit_code: bool, load: bool, inputs: tuple[str, ...],
         args: tuple[str, ...], allow_code: bool) -> None:
    """Show layers added, removed and changed between models A and B.

    Layer calls are matched by name (and call index for shared layers);
    changes in class, config, output shapes, parameter counts and
    connections are listed, with the parameter delta.

    \b
    Examples:
      inspector diff customer_ticket_model.keras customer_ticket_with_difficulty.keras
      inspector diff old.h5 new.keras --format json
      inspector diff saved.keras my_models.py:MyModel --input x=32,32,3 --exit-code
    """
    from inspector.readers.live.specs import is_python_spec
    from inspector.report.diff import diff as do_diff
    from inspector.report.diff import is_empty, render_text

    def graph(model: str) -> Any:
        live = is_python_spec(model)
        return open_graph(model, load=load and not live, inputs=inputs if live else (),
                          args=args if live else (), allow_code=allow_code)

    d = do_diff(graph(model_a), graph(model_b))
    click.echo(json.dumps(d, indent=1) if fmt == "json" else render_text(d), nl=fmt == "json")
    if exit_code and not is_empty(d):
        sys.exit(1)


COMMANDS = [diff]
