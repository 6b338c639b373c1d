"""`inspector` command line: a thin click layer over the library API.

Every command reports bad input as one ``error: <file>: <what>`` line on stderr
with exit code 2, never a traceback (set ``INSPECTOR_DEBUG=1`` to see one for
an unexpected internal error). TensorFlow is imported only by commands that
need a live model.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import click

import inspector
from inspector.atomic import Terminated, terminate_as_exception
from inspector.cli.common import model_options, open_graph, usage_error_line
from inspector.errors import InspectorError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Runs commands with uniform error reporting: one ``error:`` line, never click's usage block."""

    _command_path = "inspector"   # the sub-command being run, once known (for usage errors)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:   # usage errors: bad option values, missing arguments, ...
            fail(usage_error_line(e, self._command_path), 2 if isinstance(e, click.UsageError) else e.exit_code)
        except click.exceptions.Abort:
            fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        """Remember the sub-command, for errors click raises before its context exists."""
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            self._command_path = f"{ctx.command_path} {cmd.name}"
        return name, cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with terminate_as_exception():
                return super().invoke(ctx)
        except InspectorError as e:
            fail(str(e), 2)
        except Terminated as e:
            fail(f"interrupted ({e.name})", 128 + e.signum)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except MemoryError:
            fail("out of memory", 2)
        except Exception as e:  # a bug of ours: one line, traceback on request
            if os.environ.get("INSPECTOR_DEBUG"):
                raise
            fail(f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                 "(set INSPECTOR_DEBUG=1 for a traceback)", 1)


def fail(message: str, code: int) -> None:
    try:
        click.echo(f"error: {message}", err=True)
    except OSError:   # stderr is gone (SIGHUP: the terminal closed): the exit code still says it
        pass
    sys.exit(code)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(inspector.__version__, "-V", "--version", prog_name="inspector")
def main() -> None:
    """Keras Graph Inspector: inspect, draw, export and cut Keras models as graphs.

    MODEL is a .keras file or a legacy full-model .h5 file, read statically:
    nothing in it is executed and TensorFlow is not imported. With --load the
    file is loaded by Keras in safe mode (--unsafe allows stored code, for
    files you trust). MODEL may also be Python code: path/to/file.py:NAME or
    package.module:NAME (a model, a class built with --arg, or a factory);
    subclassed models are traced, with --input NAME=SHAPE where needed.

    \b
    Examples:
      inspector summary samples/build/customer_ticket_model.keras
      inspector summary model.h5 --format markdown
      inspector export model.keras -o graph.graphml
      inspector diff model.keras model_with_head.keras
      inspector summary samples/seed_models.py:my_model
      inspector summary samples/seed_models.py:broken_customer_ticket_subclassed \\
          --input title=10000 --input text_body=10000 --input tags=100
    """


@main.command(context_settings=CONTEXT)
@model_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="Output format.")
@click.option("--stats", "stats_path", metavar="FILE|DIR", default=None, type=click.Path(exists=True, path_type=str),
              help="Add activation-statistics columns (mean, std, min, max, zeros, dead units, NaN/Inf) from a "
                   "stats file of this model written by `inspector stats` (or the newest epoch of the "
                   "training callback's directory).")
@click.option("--weights", "weights_path", metavar="FILE", default=None,
              type=click.Path(exists=True, path_type=str),
              help="Instead of the table: would `model.load_weights(FILE)` succeed? Per layer: loaded, missing, "
                   "unexpected, shape or count mismatch, by Keras's rules for FILE's format (a Keras 3 "
                   ".weights.h5/.weights.json/.keras, a Keras 2 .h5), read statically. Exit 1 if a layer would "
                   "not load.")
@click.option("--show-ops", is_flag=True,
              help="Show the shape-computation ops of a traced model (Shape, StridedSlice, Pack of shapes, "
                   "Identity ...), hidden by default.")
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="Levels of the layer hierarchy shown (torchinfo's convention: 1 = top-level layers only); "
                   "a block's row carries its whole subtree's params. Default: 3 for a weight tree (a keras-hub "
                   "preset, a custom model class, a weights-only file), 1 for a layer graph (nested models as "
                   "one row).")
@click.option("--collapse/--no-collapse", default=None,
              help="One row per run of repeated blocks (\"block ×4\", per-block params and MACs, one block's "
                   "layers indented below), found by structure whatever the names [default: for models of "
                   "over 60 layer calls].")
def summary(model: str, fmt: str, **opts: Any) -> int | None:
    """Print one row per layer call: class, output shape, params, MACs, inputs.

    Totals (trainable / non-trainable params and their bytes, MACs per sample),
    the model inputs and outputs and the Keras version that saved the file
    follow the table. A shared layer shows its parameters on its first call.

    \b
    Examples:
      inspector summary model.keras
      inspector summary model.keras --format json | jq .totals
      inspector summary model.h5 --format markdown > MODEL.md
    """
    from inspector.report import summary as s

    stats = opts.pop("stats_path", None)
    collapse = opts.pop("collapse", None)
    depth = opts.pop("depth", None)
    show_ops = opts.pop("show_ops", False)
    weights = opts.pop("weights_path", None)
    g = open_graph(model, **opts)
    if weights is not None:
        return _weights_check(g, weights, fmt)
    if not show_ops:
        from inspector.graph.plumbing import hide_plumbing

        g = hide_plumbing(g)
    if stats is not None:
        from inspector.numerics.overlay import attach_stats

        attach_stats(g, stats)
    from inspector.report import tree

    cells = tree.cells(g, depth) if tree.applies(g, depth) else None
    from inspector.report import folded

    folds = folded.folds_for(g, collapse) if cells is None else []
    cells = folded.cells(g, folds) if folds else cells
    if fmt == "json":
        click.echo(folded.render_json(g, folds) if folds else tree.render_json(g, depth) if cells
                   else s.render_json(g), nl=False)
    elif fmt == "markdown":
        click.echo(s.render_markdown(g, cells=cells), nl=False)
    else:
        click.echo(s.render_text(g, rich_tty=sys.stdout.isatty(), cells=cells), nl=False)


def _weights_check(g: Any, weights: str, fmt: str) -> int:
    """``summary --weights``: the check's report; exit 1 when Keras would fail to load."""
    from inspector.readers.weight_match import check
    from inspector.report import weight_check as wc

    result = check(g, weights)
    render = {"json": wc.render_json, "markdown": wc.render_markdown}.get(fmt, wc.render_text)
    click.echo(render(result), nl=False)
    return 0 if result["summary"]["would_load"] else 1


@main.command(context_settings=CONTEXT)
@model_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output file: .json or .graphml.")
def export(model: str, output: str, **opts: Any) -> None:
    """Write the layer-call graph as JSON or GraphML (format from the suffix).

    The node and edge attributes are documented in the README ("Graph schema").
    The file is written atomically: a failure leaves no partial output.

    \b
    Examples:
      inspector export model.keras -o graph.json
      inspector export model.h5 -o graph.graphml
    """
    from inspector.atomic import check_not_input
    from inspector.report.export import export as do_export

    check_not_input(output, model)
    g = open_graph(model, **opts)
    fmt = do_export(g, output)
    click.echo(f"wrote {output} ({fmt}, {len(g)} nodes, {g.store.number_of_edges()} edges)", err=True)


def _register_commands() -> None:
    """Add the COMMANDS of the per-command modules (render, extract, diff, ...)."""
    from inspector.cli import compare, diff, extract, render, stats

    for module in (diff, extract, render, stats, compare):
        for command in module.COMMANDS:
            main.add_command(command)


_register_commands()


if __name__ == "__main__":
    main()
