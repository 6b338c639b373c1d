"""`inspector diff A B`: structural differences between two models."""
from __future__ import annotations

import json
import sys

import click

from inspector.cli_common import ALLOW_CODE, open_graph

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(context_settings=CONTEXT)
@click.argument("model_a", metavar="A")
@click.argument("model_b", metavar="B")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--exit-code", is_flag=True, help="Exit with 1 when the models differ (like `diff`).")
@ALLOW_CODE
def diff(model_a: str, model_b: str, fmt: str, exit_code: bool, allow_code: bool) -> None:
    """Show layers added, removed and changed between models A and B.

    Layer calls are matched by name (and call index for shared layers);
    changes in class, config, output shapes, parameter counts and
    connections are listed, with the parameter delta.

    \b
    Examples:
      inspector diff customer_ticket_model.keras customer_ticket_with_difficulty.keras
      inspector diff old.h5 new.keras --format json
    """
    from inspector.diff import diff as do_diff, is_empty, render_text

    d = do_diff(open_graph(model_a, allow_code=allow_code), open_graph(model_b, allow_code=allow_code))
    click.echo(json.dumps(d, indent=1) if fmt == "json" else render_text(d), nl=fmt == "json")
    if exit_code and not is_empty(d):
        sys.exit(1)


COMMANDS = [diff]
