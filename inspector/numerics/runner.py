"""A model cut to the outputs of many layer calls, run over data batch by batch.

:class:`LayerRunner` opens the model (a path, a Python spec or a live
``keras.Model``), reads its live graph (node ids, classes, activations) and
builds one extractor (:func:`inspector.extract.submodel.build_extractor`) with an
output per watched layer call; it is built once and can run many times (the
training callback reruns it every few epochs on the same, updated, weights).

:meth:`LayerRunner.run` feeds the batches and hands each batch's outputs to a
consumer on worker threads while the model computes the next batch: numpy
releases the GIL in its loops, so the statistics of batch ``i`` overlap the
forward pass of batch ``i + 1``. At most two batches of outputs are alive at
a time; memory follows the batch size, not the data.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.numerics.data import batches, open_data, total_rows
from inspector.numerics.probes import Probe, make_probes, select

#: Threads folding layer outputs into statistics.
WORKERS = 2


def live_graph_of(model: Any, input_specs: Any = None, path: str | None = None) -> ModelGraph:
    """The live model's graph (same node ids as reading its saved file); a failing subclassed
    ``call`` is the trace's one-line explanation."""
    from inspector.readers.live.nodes import has_graph
    from inspector.readers.live.trace import TraceFailed, live_graph, trace

    if has_graph(model):
        return live_graph(model)[0]
    result = trace(model, input_specs or None)
    if result.error is not None:
        raise TraceFailed(result, path)
    return result.graph


class LayerRunner:
    """One extractor for many layer calls, and the graph its node ids come from."""

    def __init__(self, model_or_path: Any, layers: Sequence[Any] | str = "all", *, unsafe: bool = False,
                 input_specs: Any = None, args: Sequence[str] = ()):
        from inspector.extract.submodel import build_extractor, open_model

        self.model, self.path = open_model(model_or_path, unsafe=unsafe, input_specs=input_specs, args=args)
        self.source = self.path or (model_or_path if isinstance(model_or_path, str) else None)
        self.graph = live_graph_of(self.model, input_specs, self.path)
        refs = self.graph.order() if layers == "all" else ([layers] if isinstance(layers, (str, int)) else list(layers))
        if not refs:
            raise InspectorError("name at least one layer (or 'all')", self.path)
        self.ext = build_extractor(self.model, refs, input_specs=input_specs)
        self.probes: list[Probe] | None = None

    @property
    def name(self) -> str:
        return str(getattr(self.model, "name", None) or self.graph.name)

    def outputs(self, feed: Any) -> dict[str, Any]:
        """One batch through the extractor, as ``{node id: array or list of arrays}``."""
        try:
            out = self.ext.model.predict_on_batch(feed)
        except InspectorError:
            raise
        except (ValueError, TypeError, KeyError) as e:   # Keras's shape/dtype complaints
            raise InspectorError(f"the model failed on the data: {str(e).splitlines()[0][:200]}",
                                 self.path) from None
        return {self.ext.keys[0]: out} if len(self.ext.keys) == 1 else dict(out)

    def open(self, data: Any) -> dict[str, Any]:
        return open_data(self.ext, data)

    def run(self, data: Any, consume: Callable[[Probe, Any], None], *, batch_size: int = 32,
            progress: bool = False, label: str = "stats") -> int:
        """Feed ``data``; ``consume(probe, array)`` every probe's output of every batch (in batch
        order for each probe, different probes on different threads). Returns the rows fed."""
        sources = self.open(data)
        rows = total_rows(sources)
        done = 0
        with ThreadPoolExecutor(WORKERS) as pool, progress_bar(progress, rows, label) as advance:
            pending: list[Any] = []
            for n, feed in batches(self.ext, sources, min(batch_size, rows)):
                outs = self.outputs(feed)
                if self.probes is None:
                    self.probes = make_probes(self.graph, list(self.ext.keys), outs)
                finish(pending)                     # batch i-1's statistics before batch i's
                pending = [pool.submit(consume, p, select(outs, p, n)) for p in self.probes]
                done += n
                advance(n)
            finish(pending)
        return done


def finish(futures: list[Any]) -> None:
    """Wait for one batch's tasks; a worker's exception is raised here."""
    wait(futures)
    for f in futures:
        f.result()                                   # re-raise a worker's exception here


class progress_bar:
    """A rich progress bar on stderr when ``enabled`` and stderr is a terminal; silent otherwise.
    The context value advances it by a number of rows."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled = bool(enabled) and sys.stderr.isatty() and not os.environ.get("INSPECTOR_NO_PROGRESS")
        self.total, self.label, self.bar = total, label, None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich import progress as rp
        from rich.console import Console

        self.bar = rp.Progress(rp.TextColumn("[bold]{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                               rp.TimeElapsedColumn(), rp.TextColumn("ETA"), rp.TimeRemainingColumn(),
                               console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
