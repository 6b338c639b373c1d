"""MAC rules of convolutions: Conv1D/2D/3D (grouped, dilated), DepthwiseConv1D/2D,
SeparableConv1D/2D and the transposed Conv1D/2D/3DTranspose.

* Conv: ``prod(output spatial) * prod(kernel) * (C_in / groups) * filters``; dilation
  changes which inputs are read, not how many products.
* Depthwise: ``prod(output spatial) * prod(kernel) * C_in * depth_multiplier``; separable =
  that depthwise part + a 1x1 pointwise part ``prod(output spatial) * C_in * mult * filters``.
* Transposed: every input element is multiplied by the whole kernel,
  ``prod(input spatial) * C_in * prod(kernel) * filters``; this equals TensorFlow's
  ``Conv2DBackpropInput`` FLOP estimate / 2 whenever the output is ``input * stride``.
"""
from __future__ import annotations

import math

from inspector.layers.common import as_int, as_tuple, data_format
from inspector.layers.costs_common import at, spatial, weight


def conv(name, config, ins, outs, weights) -> int | None:
    """Conv*, DepthwiseConv*, SeparableConv* for one sample."""
    y = at(outs, 0)
    if y is None:
        return None
    fmt = data_format(config)
    out_spatial, out_ch = spatial(y, fmt)
    kernel = as_tuple(config.get("kernel_size"), len(out_spatial))
    positions = math.prod(out_spatial) * math.prod(kernel)
    x = at(ins, 0)
    in_ch = spatial(x, fmt)[1] if x is not None else None
    w0 = weight(weights, 0)
    if name.startswith(("Depthwise", "Separable")):
        mult = as_int(config.get("depth_multiplier", 1), 1)
        if in_ch is None and w0 is not None:
            in_ch = w0[-2]
        if in_ch is None:
            return None
        depthwise = positions * in_ch * mult
        if name.startswith("Depthwise"):
            return depthwise
        return depthwise + math.prod(out_spatial) * in_ch * mult * out_ch
    groups = as_int(config.get("groups", 1) or 1, 1)
    if in_ch is None and w0 is not None:
        in_ch = w0[-2] * groups
    if in_ch is None:
        return None
    return positions * out_ch * (in_ch // groups)


def conv_transpose(name, config, ins, outs, weights) -> int | None:
    """Conv*DTranspose: the whole kernel per input element."""
    x = at(ins, 0)
    if x is None:
        return None
    in_spatial, in_ch = spatial(x, data_format(config))
    kernel = as_tuple(config.get("kernel_size"), len(in_spatial))
    filters = as_int(config.get("filters"), 1)
    return math.prod(in_spatial) * in_ch * math.prod(kernel) * filters


def conv_rules() -> dict:
    """Class name -> rule, every spelling Keras and tf-keras save."""
    return {
        **{f"{kind}{n}D": conv for n in (1, 2, 3) for kind in (
            "Conv", "Convolution", "DepthwiseConv", "SeparableConv", "SeparableConvolution")},
        **{f"{kind}{n}DTranspose": conv_transpose for n in (1, 2, 3) for kind in ("Conv", "Convolution")},
    }
