"""``inspector stats``: what flows through every layer call, over a data set, in one pass.

:func:`run_stats` runs the model once over the data, batch by batch, and folds
each watched layer call's output into running statistics
(:mod:`inspector.numerics.accumulate`): memory follows the batch size, never
the data. The result (``stats.json``, schema ``inspector.stats/1``)::

    {"schema": "inspector.stats/1",
     "model": "customer_ticket_model",        # the model's name
     "source": "ticket.keras",                # the path it was read from (null for a live model)
     "rows": 1000, "batch_size": 32, "bins": 32,
     "epoch": null,                           # the training callback's epoch (counting from 1)
     "first_nonfinite": null | {"node": "log", "name": "log", "nan": 12, "inf": 0},
     "layers": {                              # graph order
       NODE_ID: {                             # "dense", "dense:1" (2nd call), "lstm#1" (2nd output)
         "name": "dense", "call": 0, "class_name": "Dense", "output": 0,
         "dtype": "float32", "shape": [null, 64],
         "count": 64000,                      # finite values seen; the statistics below are over them
         "nan": 0, "inf": 0,
         "mean": 0.31, "std": 0.52, "min": 0.0, "max": 4.1, "abs_mean": 0.31,
         "zero_fraction": 0.48,               # exact zeros / count
         "dead_fraction": 0.03, "dead_units": 2,   # ReLU-family outputs only, else null
         "hist": {"edges": [33 floats], "counts": [32 ints], "under": 0, "over": 5}}}}

``first_nonfinite`` is the first layer call in graph order (``ModelGraph.order()``,
a topological order of the calls) whose output held a NaN or an Inf: where a NaN
is born, since every call it flows into comes later. A statistic with no finite
value to describe is null. See :mod:`inspector.numerics.accumulate` for the
histogram's range rule and :mod:`inspector.numerics.probes` for which outputs count
dead units.
"""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

from inspector.numerics.accumulate import BINS, TensorStats
from inspector.numerics.probes import Probe
from inspector.numerics.runner import LayerRunner

SCHEMA = "inspector.stats/1"


class StatsProbe:
    """A model prepared for statistics runs: built once, run on any data any number of times."""

    def __init__(self, model_or_path: Any, layers: Sequence[Any] | str = "all", *, bins: int = BINS,
                 unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = ()):
        if not 1 <= bins <= 256:
            from inspector.errors import InspectorError

            raise InspectorError(f"bins must be between 1 and 256, got {bins}")
        self.bins = bins
        self.runner = LayerRunner(model_or_path, layers, unsafe=unsafe, input_specs=input_specs, args=args)

    def run(self, data: Any, *, batch_size: int = 32, progress: bool = False, epoch: int | None = None
            ) -> dict[str, Any]:
        """Statistics of every watched output over ``data``, as the schema in the module docstring."""
        acc: dict[str, TensorStats] = {}

        def consume(probe: Probe, array: Any) -> None:
            stats = acc.get(probe.key)
            if stats is None:   # one worker per probe per batch: no two threads create the same key
                stats = acc[probe.key] = TensorStats(self.bins, probe.channel_axis)
            stats.update(array)

        rows = self.runner.run(data, consume, batch_size=batch_size, progress=progress, label="stats")
        layers = {}
        for p in self.runner.probes or []:
            layers[p.key] = {"name": p.name, "call": p.call, "class_name": p.class_name, "output": p.output,
                             **acc[p.key].result()}
        return {"schema": SCHEMA, "model": self.runner.name, "source": self.runner.source, "rows": rows,
                "batch_size": batch_size, "bins": self.bins, "epoch": epoch,
                "first_nonfinite": first_nonfinite(layers), "layers": layers}


def run_stats(model_or_path: Any, data: Any, layers: Sequence[Any] | str = "all", *, batch_size: int = 32,
              bins: int = BINS, progress: bool = True, unsafe: bool = False, input_specs: Any = None,
              args: Sequence[str] = ()) -> dict[str, Any]:
    """Per-layer statistics of ``model_or_path`` over ``data`` (a ``.npy``/``.npz``/image directory
    path, or arrays), in one streaming pass; see the module docstring for the result.

    ``layers`` is ``"all"`` (every layer call, inputs included) or node ids / layer names /
    ``model.layers`` indexes. The progress bar shows only when stderr is a terminal.
    """
    probe = StatsProbe(model_or_path, layers, bins=bins, unsafe=unsafe, input_specs=input_specs, args=args)
    return probe.run(data, batch_size=batch_size, progress=progress)


def first_nonfinite(layers: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The first entry (graph order) with a NaN or Inf."""
    for key, s in layers.items():
        if s.get("nan") or s.get("inf"):
            return {"node": key, "name": s.get("name"), "nan": s["nan"], "inf": s["inf"]}
    return None


def dumps(stats: dict[str, Any]) -> str:
    """JSON text of a stats (or compare) result: strict JSON, no NaN or Infinity tokens."""
    return json.dumps(_finite(stats), indent=1, allow_nan=False) + "\n"


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v
