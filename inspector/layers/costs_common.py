"""Shape helpers shared by the per-family MAC rules (``costs_*``).

Every rule has the signature ``rule(name, config, ins, outs, weights) -> int | None`` and works
on ONE sample: the leading (batch) axis of a shape is dropped, and any other unknown axis raises
:class:`ShapeError`, which :func:`inspector.layers.costs.count_macs` turns into ``None`` (a
count is never guessed).
"""
from __future__ import annotations

import math
from typing import Callable

from inspector.layers.common import Shape, ShapeError

#: ``rule(short class name, config, input shapes, output shapes, weight shapes) -> MACs``
Rule = Callable[[str, dict, list, list, list], "int | None"]


def known(shape: Shape | None) -> tuple[int, ...]:
    """Per-sample dims (batch axis dropped); an unknown one raises ShapeError."""
    if shape is None or not shape:
        raise ShapeError("unknown shape")
    dims = shape[1:]
    if any(d is None for d in dims):
        raise ShapeError("unknown non-batch dimension")
    return dims  # type: ignore[return-value]


def numel(shape: Shape | None) -> int:
    """Elements of one sample of ``shape``."""
    return math.prod(known(shape))


def at(shapes: list, i: int) -> Shape | None:
    """``shapes[i]``, None when the list is shorter."""
    return shapes[i] if len(shapes) > i else None


def weight(weights: list, i: int) -> tuple | None:
    """The i-th weight shape when fully known."""
    w = at(weights, i)
    return w if w and all(d is not None for d in w) else None


def spatial(shape: Shape, fmt: str) -> tuple[tuple[int, ...], int]:
    """(spatial dims, channels) of one sample of an image-like tensor."""
    dims = known(shape)
    if fmt == "channels_last":
        return dims[:-1], dims[-1]
    return dims[1:], dims[0]


def per_element(name, config, ins, outs, weights) -> int:
    """Normalization and rescaling: one MAC per output element, the inference form
    ``x * scale + offset`` with the statistics folded into scale and offset."""
    return numel(at(outs, 0) or at(ins, 0))
