"""Static output shapes of spatial layers: convolutions (ConvLSTM too),
pooling, padding, cropping, up-sampling and image resizing; and of the
categorical preprocessing layers (lookups, hashing, discretization, category
encoding), whose output dtypes are not their dtype policy either.

The arithmetic mirrors Keras' own ``compute_output_shape`` implementations
(``keras/src/ops/operation_utils.py``: ``compute_conv_output_shape`` and
``compute_pooling_output_shape``; ``keras/src/backend/common/
backend_utils.py``: ``compute_conv_transpose_output_shape``), which tf-keras'
``conv_utils`` agrees with, so one implementation serves both config
dialects.  Where Keras would raise (non-positive output size) we raise
:class:`ShapeError` so the caller reports "unknown" rather than a bogus shape.
"""

from __future__ import annotations

from inspector.layers.common import (
    Dim,
    Handler,
    Shape,
    ShapeError,
    as_int,
    as_tuple,
    data_format,
    first,
    mul,
    need_rank,
    pairs,
)


def _split(shape: Shape, fmt: str) -> tuple[list[Dim], Dim]:
    """(spatial dims, channel dim) of a batched N-D image tensor."""
    if fmt == "channels_last":
        return list(shape[1:-1]), shape[-1]
    return list(shape[2:]), shape[1]


def _join(batch: Dim, spatial: list[Dim], channels: Dim, fmt: str) -> Shape:
    if fmt == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def _rank_of(class_name: str) -> int:
    """Number of spatial dims encoded in a class name like ``Conv2D``."""
    for n in (1, 2, 3):
        if f"{n}D" in class_name:
            return n
    raise ShapeError(f"no spatial rank in {class_name}")


def _padding(config: dict, allowed: tuple[str, ...]) -> str:
    pad = str(config.get("padding", "valid")).lower()
    if pad not in allowed:
        raise ShapeError(f"unsupported padding {pad!r}")
    return pad


def conv_length(size: Dim, kernel: int, stride: int, dilation: int,
                padding: str) -> Dim:
    """Output length of a (dilated, strided) convolution along one axis."""
    if size is None:
        return None
    if padding == "valid":
        out = (size - dilation * (kernel - 1) - 1) // stride + 1
    else:  # "same" and "causal" both preserve ceil(size / stride)
        out = (size - 1) // stride + 1
    if out <= 0:
        raise ShapeError("convolution output would be empty")
    return out


def transpose_length(size: Dim, kernel: int, stride: int, dilation: int,
                     padding: str, output_padding: int | None) -> Dim:
    """Keras/TF ``deconv_output_length`` (same formula in Keras 2 and 3)."""
    if size is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        if output_padding is None:
            output_padding = max(kernel, stride) - kernel
        return (size - 1) * stride + kernel + output_padding
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


def _conv_geometry(class_name: str, config: dict, shape: Shape):
    """Shared parsing of kernel_size/strides/dilation/padding for convs."""
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = data_format(config)
    kernel = as_tuple(config.get("kernel_size"), n)
    strides = as_tuple(config.get("strides", 1), n)
    dilation = as_tuple(config.get("dilation_rate", 1) or 1, n)
    return n, fmt, kernel, strides, dilation


def conv(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Conv1D/2D/3D, DepthwiseConv1D/2D and SeparableConv1D/2D."""
    shape = first(shapes)
    n, fmt, kernel, strides, dilation = _conv_geometry(
        class_name, config, shape)
    pad = _padding(config, ("valid", "same", "causal"))
    spatial, channels = _split(shape, fmt)
    out_spatial = [
        conv_length(spatial[i], kernel[i], strides[i], dilation[i], pad)
        for i in range(n)
    ]
    if class_name.startswith("Depthwise"):
        out_channels = mul(channels, as_int(config.get("depth_multiplier", 1),
                                            1))
    else:
        out_channels = as_int(config.get("filters"), 1)
    return _join(shape[0], out_spatial, out_channels, fmt)


def conv_transpose(class_name: str, config: dict, shapes: list,
                   kw: dict) -> Shape:
    """Conv1DTranspose/Conv2DTranspose/Conv3DTranspose."""
    shape = first(shapes)
    n, fmt, kernel, strides, dilation = _conv_geometry(
        class_name, config, shape)
    pad = _padding(config, ("valid", "same"))
    op = config.get("output_padding")
    out_pad = None if op is None else as_tuple(op, n, minimum=0)
    spatial, _ = _split(shape, fmt)
    out_spatial = [
        transpose_length(spatial[i], kernel[i], strides[i], dilation[i], pad,
                         None if out_pad is None else out_pad[i])
        for i in range(n)
    ]
    return _join(shape[0], out_spatial, as_int(config.get("filters"), 1), fmt)


def pooling(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """MaxPooling1D/2D/3D and AveragePooling1D/2D/3D."""
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = data_format(config)
    pool = as_tuple(config.get("pool_size", 2), n)
    raw_strides = config.get("strides")
    strides = pool if raw_strides is None else as_tuple(raw_strides, n)
    pad = _padding(config, ("valid", "same"))
    spatial, channels = _split(shape, fmt)
    out = []
    for i in range(n):
        size = spatial[i]
        if size is None:
            out.append(None)
            continue
        if pad == "valid":
            length = (size - pool[i]) // strides[i] + 1
        else:
            length = (size - 1) // strides[i] + 1
        if length <= 0:
            raise ShapeError("pooling output would be empty")
        out.append(length)
    return _join(shape[0], out, channels, fmt)


def global_pooling(class_name: str, config: dict, shapes: list,
                   kw: dict) -> Shape:
    """GlobalMax/GlobalAveragePooling1D/2D/3D with optional keepdims."""
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = data_format(config)
    _, channels = _split(shape, fmt)
    if config.get("keepdims", False):
        return _join(shape[0], [1] * n, channels, fmt)
    return (shape[0], channels)


def adaptive_pooling(class_name: str, config: dict, shapes: list,
                     kw: dict) -> Shape:
    """AdaptiveAverage/AdaptiveMaxPooling1D/2D/3D: spatial = output_size."""
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = data_format(config)
    _, channels = _split(shape, fmt)
    size = list(as_tuple(config.get("output_size"), n))
    return _join(shape[0], size, channels, fmt)


def _spatial_fmt(class_name: str, config: dict) -> str:
    # Cropping1D / UpSampling1D have no data_format (always channels_last).
    return data_format(config) if "data_format" in config else "channels_last"


def zero_padding(class_name: str, config: dict, shapes: list,
                 kw: dict) -> Shape:
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = _spatial_fmt(class_name, config)
    pads = pairs(config.get("padding", 1), n)
    spatial, channels = _split(shape, fmt)
    out = [None if s is None else s + lo + hi
           for s, (lo, hi) in zip(spatial, pads)]
    return _join(shape[0], out, channels, fmt)


def cropping(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = _spatial_fmt(class_name, config)
    crops = pairs(config.get("cropping", 1), n)
    spatial, channels = _split(shape, fmt)
    out: list[Dim] = []
    for s, (lo, hi) in zip(spatial, crops):
        if s is None:
            out.append(None)
        elif s - lo - hi <= 0:
            raise ShapeError("cropping removes the whole axis")
        else:
            out.append(s - lo - hi)
    return _join(shape[0], out, channels, fmt)


def upsampling(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 2)
    fmt = _spatial_fmt(class_name, config)
    size = as_tuple(config.get("size", 2), n)
    spatial, channels = _split(shape, fmt)
    out = [mul(s, k) for s, k in zip(spatial, size)]
    return _join(shape[0], out, channels, fmt)


def resize_like(class_name: str, config: dict, shapes: list, kw: dict) -> Shape:
    """Resizing / CenterCrop / RandomCrop: (height, width) replace the two
    spatial axes, exactly as their ``compute_output_shape`` does (a rank-3
    input is treated as an unbatched image, like Keras)."""
    shape = list(need_rank(first(shapes), 3, 4))
    height = as_int(config.get("height"), 1)
    width = as_int(config.get("width"), 1)
    fmt = data_format(config)
    offset = (1 if len(shape) == 4 else 0) + (1 if fmt == "channels_first"
                                              else 0)
    shape[offset], shape[offset + 1] = height, width
    return tuple(shape)


def conv_lstm(class_name: str, config: dict, shapes: list,
              kw: dict) -> list[Shape]:
    """ConvLSTM1D/2D/3D (``ConvLSTM.compute_output_shape``): each time
    step is convolved like ``ConvND`` (padding "valid"/"same"); the output
    is that per-step shape, with the time axis when ``return_sequences``,
    followed by the two states (h, c) when ``return_state``."""
    shape = first(shapes)
    n = _rank_of(class_name)
    need_rank(shape, n + 3)
    _padding(config, ("valid", "same"))
    step = conv(f"Conv{n}D", config, [(shape[0], *shape[2:])], kw)
    out = ((shape[0], shape[1], *step[1:])
           if config.get("return_sequences", False) else step)
    return [out, step, step] if config.get("return_state", False) else [out]


# --------------------------------------------------------------------------
# categorical preprocessing layers
# --------------------------------------------------------------------------

def _encoded(shape: Shape, depth: Dim, one_hot: bool) -> Shape:
    """Keras 3's ``compute_output_shape`` for an encoding ``output_mode``:
    one_hot appends the depth axis (replacing a trailing 1), multi_hot /
    count / tf_idf replace the last (sample) axis with it.  Rank > 2 is
    left unknown: there the symbolic shape and the computed one can differ
    (multi_hot: Keras says (None, 3, 5) for a (None, 3, 4) input, the call
    returns (None, 4, 5))."""
    if len(shape) > 2:
        raise ShapeError("encoding of a rank > 2 input")
    if not shape:
        return (depth,)
    if one_hot and (shape[-1] != 1 or len(shape) == 1):
        return (*shape, depth)
    return (*shape[:-1], depth)


def _mode(config: dict, allowed: tuple[str, ...]) -> str:
    mode = config.get("output_mode", "int")
    if mode not in allowed:
        raise ShapeError(f"unknown output_mode {mode!r}")
    return mode


def category_encoding(class_name: str, config: dict, shapes: list,
                      kw: dict) -> Shape:
    mode = _mode(config, ("one_hot", "multi_hot", "count"))
    return _encoded(first(shapes), as_int(config.get("num_tokens"), 1),
                    mode == "one_hot")


def hashed_crossing(class_name: str, config: dict, shapes: list,
                    kw: dict) -> Shape:
    """HashedCrossing of two features of equal last axis."""
    if len(shapes) != 2 or any(s is None or not s for s in shapes):
        raise ShapeError("HashedCrossing takes two known inputs")
    if shapes[0][-1] != shapes[1][-1]:
        raise ShapeError("HashedCrossing inputs differ")
    if _mode(config, ("int", "one_hot")) == "int":
        return shapes[0]
    return _encoded(shapes[0], as_int(config.get("num_bins"), 1), True)


def _lookup_depth(class_name: str, config: dict) -> int:
    """Encoding width: Hashing ``num_bins``; Discretization bins (from
    ``bin_boundaries`` when saved); String/IntegerLookup ``max_tokens``
    when padded to it, else the vocabulary size saved at call time."""
    if class_name == "Hashing":
        return as_int(config.get("num_bins"), 1)
    if class_name == "Discretization":
        bounds = config.get("bin_boundaries")
        if isinstance(bounds, list):
            return len(bounds) + 1
        return as_int(config.get("num_bins"), 1)
    key = "max_tokens" if config.get("pad_to_max_tokens") else \
        "vocabulary_size"
    return as_int(config.get(key), 1)


def lookup_layer(class_name: str, config: dict, shapes: list,
                 kw: dict) -> Shape:
    """String/IntegerLookup, Hashing and Discretization: "int" maps element
    per element, the other modes encode to the depth of
    :func:`_lookup_depth`."""
    mode = _mode(config, ("int", "one_hot", "multi_hot", "count", "tf_idf"))
    if mode == "int":
        return first(shapes)
    if class_name == "Hashing" and mode == "one_hot" and \
            first(shapes)[1:] != (1,):
        # Hashing's symbolic shape drops this axis; its call keeps it
        raise ShapeError("Hashing one_hot of a non-(batch, 1) input")
    return _encoded(first(shapes), _lookup_depth(class_name, config),
                    mode == "one_hot")


def preprocessing_dtype(class_name: str, config: dict,
                        policy: str | None) -> str | None:
    """Output dtype of the categorical layers when it is not their dtype
    policy (``policy``): lookups give int64 indices in "int" mode and floatx
    otherwise; inverted, they give their vocabulary's dtype (what the call
    returns; Keras 3's symbolic dtype says int64).  Keras 3's
    Discretization gives int32 indices while keeping a float policy
    (tf-keras' has an int policy, used as is)."""
    mode = config.get("output_mode", "int")
    if class_name in ("StringLookup", "IntegerLookup"):
        if mode != "int":
            return "float32"
        if not config.get("invert"):
            return "int64"
        return "string" if class_name == "StringLookup" else \
            config.get("vocabulary_dtype", "int64")
    if class_name == "Discretization" and mode == "int":
        return policy if policy and "int" in policy else "int32"
    return None


def register(table: dict[str, Handler]) -> None:
    """Add this module's handlers (and Keras 2 alias names) to ``table``."""
    for n in (1, 2, 3):
        table[f"Conv{n}D"] = conv
        table[f"Conv{n}DTranspose"] = conv_transpose
        table[f"Convolution{n}D"] = conv  # Keras 2 aliases
        table[f"Convolution{n}DTranspose"] = conv_transpose
        table[f"MaxPooling{n}D"] = pooling
        table[f"AveragePooling{n}D"] = pooling
        table[f"MaxPool{n}D"] = pooling
        table[f"AvgPool{n}D"] = pooling
        for kind in ("Max", "Average"):
            table[f"Global{kind}Pooling{n}D"] = global_pooling
            table[f"Adaptive{kind}Pooling{n}D"] = adaptive_pooling
        table[f"GlobalMaxPool{n}D"] = global_pooling
        table[f"GlobalAvgPool{n}D"] = global_pooling
        table[f"ZeroPadding{n}D"] = zero_padding
        table[f"Cropping{n}D"] = cropping
        table[f"UpSampling{n}D"] = upsampling
    for n in (1, 2):
        table[f"DepthwiseConv{n}D"] = conv
        table[f"SeparableConv{n}D"] = conv
        table[f"SeparableConvolution{n}D"] = conv
    for name in ("Resizing", "CenterCrop", "RandomCrop"):
        table[name] = resize_like
    for n in (1, 2, 3):
        table[f"ConvLSTM{n}D"] = conv_lstm
    table["CategoryEncoding"] = category_encoding
    table["HashedCrossing"] = hashed_crossing
    for name in ("StringLookup", "IntegerLookup", "Hashing",
                 "Discretization"):
        table[name] = lookup_layer
