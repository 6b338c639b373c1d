"""MAC rules of the wrappers, in terms of the layer they wrap: Bidirectional (both
directions; the merge of the two outputs is element-wise, 0), TimeDistributed (time steps
times one call of the inner layer) and SpectralNormalization (at inference the wrapped
layer alone: the power iteration that renormalizes the kernel runs in training only).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

from inspector.layers.common import unwrap_layer

#: ``count(class_name, config, input_shapes, output_shapes, weight_shapes)``: the dispatcher
#: (:func:`inspector.layers.costs.count_macs`), handed in by it, so this module imports nothing above it.
Count = Callable[[str, dict, list, list, list], "int | None"]


def bidirectional(_inner: Count, name, config, ins, outs, weights) -> int | None:
    """Forward layer + backward layer (the forward one again when no backward_layer is saved)."""
    total = 0
    for key in ("layer", "backward_layer"):
        entry = config.get(key)
        if key == "backward_layer" and not isinstance(entry, dict):
            entry = config.get("layer")
        macs = _inner(*unwrap_layer(entry), ins[:1], [], [])
        if macs is None:
            return None
        total += macs
    return total


def time_distributed(_inner: Count, name, config, ins, outs, weights) -> int | None:
    """``steps * MACs(inner layer on one step)``."""
    x, y = (ins[0] if ins else None), (outs[0] if outs else None)
    if x is None or len(x) < 3 or x[1] is None:
        return None
    child_out = [(y[0], *y[2:])] if y is not None and len(y) >= 2 else []
    macs = _inner(*unwrap_layer(config.get("layer")), [(x[0], *x[2:])], child_out, weights)
    return None if macs is None else x[1] * macs


def spectral_normalization(_inner: Count, name, config, ins, outs, weights) -> int | None:
    """The wrapped layer's MACs on the same tensors."""
    return _inner(*unwrap_layer(config.get("layer")), ins, outs, weights)


def wrapper_rules(count: Count) -> dict:
    """Class name -> rule, each counting its inner layer with ``count``."""
    return {"Bidirectional": partial(bidirectional, count), "TimeDistributed": partial(time_distributed, count),
            "SpectralNormalization": partial(spectral_normalization, count)}
