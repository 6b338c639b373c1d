"""`inspector features`: a feature extractor run over data files, batch by batch, into .npy/.npz."""
from __future__ import annotations

import sys
from typing import Any, Callable

import click

from inspector.cli.params import INPUT_SPEC, SHARD
from inspector.cli.submodels import CONTEXT, live_kwargs, say


def _feature_options(fn: Callable) -> Callable:
    """MODEL and the live-model options, with --spec for trace shapes (--input here is the data)."""
    for deco in reversed([
        click.argument("model", metavar="MODEL"),
        click.option("--load", is_flag=True, hidden=True, help="Accepted for uniformity; the model is always loaded."),
        click.option("--unsafe", is_flag=True, help="Allow Keras to run code stored in the file (Lambda "
                                                    "bytecode). Only for files you trust."),
        click.option("--spec", "inputs", multiple=True, type=INPUT_SPEC, metavar="NAME=SHAPE[:DTYPE]",
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
@click.option("--shard", type=SHARD, metavar="K/N",
              help="Process only the K-th of N contiguous slices (K from 0) and write OUT-0000K-of-0000N.npy; "
                   "see README for merging the parts.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process. ray: Ray Data workers (pip install -e '.[ray]'); same rows, bit for bit.")
@click.option("--address", metavar="ADDR",
              help="With --engine ray: join this cluster ('auto', 'ray://host:10001'); default: a local one for the run.")
@click.option("--num-workers", type=click.IntRange(min=1), metavar="N",
              help="With --engine ray: workers, one extractor each (default: one per node).")
@click.option("--format", "fmt", type=click.Choice(["npy", "npz", "parquet"]),
              help="Output format (default: from the suffix of -o); parquet (--engine ray): a directory of "
                   "row_id + feature columns.")
def features(model: str, layers: tuple[str, ...], data: str, output: str, batch_size: int,
             shard: tuple[int, int] | None, progress: bool | None, engine: str, address: str | None,
             num_workers: int | None, fmt: str | None, **opts: Any) -> None:
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
    if progress is None:
        progress = sys.stderr.isatty()
    if engine == "ray":
        _on_ray(model, layers, data, output, batch_size, shard, progress, address, num_workers, fmt, opts)
        return
    if address or num_workers or fmt == "parquet":
        raise click.UsageError("--address, --num-workers and --format parquet need --engine ray")
    from inspector.extract.features import extract_features

    r = extract_features(model, list(layers), data, output, batch_size=batch_size, shard=shard,
                         progress=progress, **live_kwargs(opts))
    shapes = ", ".join(f"{k} {v}" for k, v in r.outputs.items())
    rate = r.rows / r.seconds if r.seconds > 0 else 0.0
    say(f"wrote {r.path}: rows {r.start}..{r.start + r.rows} ({shapes}) in {r.seconds:.1f}s, {rate:,.0f} rows/s")



def _on_ray(model: str, layers: tuple[str, ...], data: str, output: str, batch_size: int,
            shard: tuple[int, int] | None, progress: bool, address: str | None, num_workers: int | None,
            fmt: str | None, opts: dict) -> None:
    """``--engine ray``: :func:`inspector.extract.ray_engine.run` (a local cluster unless --address)."""
    if shard is not None:
        raise click.UsageError("--shard splits the rows for a batch scheduler; with --engine ray, Ray does")
    from inspector.extract.ray_engine import run

    bar = None
    if progress:
        bar = click.progressbar(length=1, label="rows", file=sys.stderr)

    def update(done: int, total: int) -> None:
        if bar is not None:
            bar.length = total
            bar.update(done - bar.pos)

    try:
        r = run(model, list(layers), data, output, fmt="parquet" if fmt == "parquet" else None,
                batch_size=batch_size, num_workers=num_workers, address=address, progress=update,
                **live_kwargs(opts))
    finally:
        if bar is not None:
            bar.render_finish()
    say(f"wrote {r.path}: {r.rows} rows with {r.num_workers} Ray workers in {r.seconds:.1f}s "
        f"(start-up {r.startup_seconds:.1f}s)")


COMMANDS = [features]
