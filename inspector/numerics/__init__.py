"""Numerics on the graph: what flows through each layer call, and where two models part.

* :func:`run_stats` (``inspector stats``): per-layer-call statistics over a data
  set in one streaming pass (mean, std, min, max, mean |x|, zeros, dead ReLU
  units, NaN/Inf counts, histogram), and the first call where a NaN or Inf appears.
* :func:`run_compare` (``inspector compare``): two models on the same inputs,
  matched layer call by layer call (max abs error, relative L2 error, cosine).
* :class:`ActivationStats` (``inspector.callbacks``): the stats file every N epochs
  during ``fit``.

``import inspector.numerics`` imports neither Keras nor numpy: the names resolve
on first use.
"""
from __future__ import annotations

from typing import Any

__all__ = ["run_stats", "run_compare", "ActivationStats", "StatsProbe"]

_WHERE = {"run_stats": "stats", "StatsProbe": "stats", "run_compare": "compare", "ActivationStats": "callbacks"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'inspector.numerics' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"inspector.numerics.{_WHERE[name]}"), name)
