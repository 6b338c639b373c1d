"""`inspector compare A B -i DATA`: two models on the same inputs, layer call by layer call."""
from __future__ import annotations

import sys
from typing import Any

import click

from inspector.cli.stats import CONTEXT, check_data, live, run_options


@click.command(context_settings=CONTEXT)
@click.argument("model_a", metavar="A")
@click.argument("model_b", metavar="B")
@run_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format on stdout.")
@click.option("--threshold", type=click.FloatRange(min=0), default=1e-3, show_default=True,
              help="Relative L2 error above which a layer call counts as different.")
@click.option("--exit-code", is_flag=True, help="Exit with 1 when a layer call's error passes the threshold.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Also write the JSON result to this file (for `render B --overlay`), atomically.")
def compare(model_a: str, model_b: str, fmt: str, threshold: float, exit_code: bool, output: str | None,
            **opts: Any) -> None:
    """Run models A and B on DATA and compare their layer calls' outputs.

    Layer calls are matched as `inspector diff` matches them (layer name and
    call index), then by position. Per matched call: max absolute error,
    relative L2 error and cosine similarity over all rows; the first call in
    B's graph order whose relative L2 error passes --threshold is named.

    \b
    Examples:
      inspector compare float.keras int8.keras -i sample.npz
      inspector compare before.keras after.keras -i x.npy --format json > compare.json
      inspector compare saved.keras my_models.py:build -i x.npy --exit-code
    """
    from inspector.atomic import check_not_input, check_writable, write_text

    data = opts["data"]
    if output:
        check_not_input(output, model_a)
        check_not_input(output, model_b)
        check_not_input(output, data, what="input data")
        check_writable(output)
    check_data(data)
    from inspector.numerics.compare import render_text, run_compare
    from inspector.numerics.stats import dumps

    result = run_compare(model_a, model_b, data, threshold=threshold, **live(opts))
    text = dumps(result)
    if output:
        write_text(output, text)
    click.echo(text if fmt == "json" else render_text(result), nl=False)
    if exit_code and result["first_over"] is not None:
        sys.exit(1)


COMMANDS = [compare]
