"""Output dtypes of ``keras.ops`` nodes and tf-keras TF-op layers where they differ from the
first input's (Keras's ``compute_output_spec``; TF's own rules for TF ops, which never promote).

Kept apart from the shape rules (:mod:`.shapes_ops`, :mod:`.shapes_seq`);
:func:`inspector.layers.shapes.infer_output_dtypes` picks the rule for a node.
"""

from __future__ import annotations

from inspector.layers.common import const_dtype, is_floating, is_int, is_tensor_ref, result_type
from inspector.layers.ops import call_args
from inspector.layers.seq import _TF_BOOL, _TF_RULES, _tf_const_operands

_BOOL_OPS = frozenset({
    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual",
    "LogicalAnd", "LogicalOr", "LogicalXor", "LogicalNot", "Isnan", "Isinf",
    "Isfinite", "Any", "All",
})
# int/bool inputs give floatx; float inputs keep their dtype
_FLOAT_OPS = frozenset({
    "Sqrt", "Exp", "Log", "Log1p", "Expm1", "Log2", "Log10", "Sin", "Cos",
    "Tan", "Tanh", "Arctan", "Mean", "Var", "Std", "Norm", "Average",
    "Divide", "TrueDivide",
})
_PROMOTING = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum",
    "Minimum", "Power", "Mod", "FloorDivide", "Where", "Stack",
    "Concatenate",
})


def _promoted(name: str, dtypes: list, kw: dict) -> str | None:
    """``dtypes.result_type`` of the operands; Python constants from
    ``__args__`` count as weak int/float.  ``where``'s condition does not
    take part."""
    tensors = list(dtypes[1:] if name == "Where" else dtypes)
    args = call_args(kw)
    if args is not None:
        for arg in (args[1:] if name == "Where" else args):
            if not is_tensor_ref(arg):
                tensors.append(const_dtype(arg))
    return result_type(*tensors)


def _widened_sum(dtype: str | None) -> str | None:
    """``sum``/``prod`` accumulate small ints in 32 bits (JAX's rule)."""
    if dtype in ("bool", "int8", "int16"):
        return "int32"
    return "uint32" if dtype in ("uint8", "uint16") else dtype


def op_dtypes(name: str, config: dict, dtypes: list, kw: dict) -> list | None:
    """Output dtypes of a ``keras.ops`` node, or None for "the first
    input's" (right for every shape-only and most element-wise ops)."""
    x = dtypes[0] if dtypes else None
    own = config.get("dtype")
    if name in _PROMOTING:
        x = _promoted(name, dtypes, kw)
        if x is None:
            return None
    if name in _BOOL_OPS:
        return ["bool"]
    if name in ("Argmax", "Argmin", "Argsort"):
        return ["int32"]
    if name in _FLOAT_OPS:
        return [x if is_floating(x) else "float32"]
    if name == "Logsumexp":
        return ["float32"]
    if name in ("Sum", "Prod"):
        return [own or _widened_sum(x)]
    if name in ("Cumsum", "Cumprod", "Clip", "Square"):
        x = own or x
        return ["int32" if x == "bool" else x]
    if name in ("Cast", "ZerosLike", "OnesLike"):
        return [own or x]
    if name == "OneHot":
        return [own or "float32"]
    if name == "TopK":
        return [x, "int32"]
    if name == "Split":
        n = config.get("indices_or_sections")
        return [x] * (n if is_int(n) else len(n) + 1)
    return [x] if name in _PROMOTING else None


def _tf_divide_dtype(dtype: str | None) -> str | None:
    """TF's true division turns small ints into float32, wide into float64."""
    if dtype in ("int8", "int16", "uint8", "uint16"):
        return "float32"
    if dtype in ("int32", "int64", "uint32", "uint64"):
        return "float64"
    return dtype


def tf_op_dtypes(config: dict, dtypes: list, kw: dict) -> list | None:
    """Output dtypes of a TF-op layer.  TF does not promote, so most
    functions give their first tensor's dtype; the config's own ``dtype``
    (the layer's float32 policy) says nothing about the op's output."""
    fn = config.get("function")
    if fn not in _TF_RULES:
        return None
    x = dtypes[0] if dtypes else None
    if fn in _TF_BOOL:
        return ["bool"]
    if fn in ("math.argmax", "math.argmin"):
        return [kw.get("output_type") or "int64"]
    if fn in ("cast", "saturate_cast"):
        return [kw.get("dtype")]
    if fn == "one_hot":
        return [kw.get("dtype") or "float32"]
    if fn in ("math.top_k", "nn.top_k"):
        return [x, "int32"]
    if fn in ("compat.v1.shape", "shape", "compat.v1.size", "size"):
        return [kw.get("out_type") or "int32"]
    if fn == "rank":
        return ["int32"]
    if fn == "where":
        if len(dtypes) == 1 and not _tf_const_operands(kw, ("x", "y")):
            return ["int64"]
        return [dtypes[1] if len(dtypes) > 1 else None]
    if fn in ("math.truediv", "math.divide"):
        return [_tf_divide_dtype(x)]
    if fn == "split":
        n = kw.get("num_or_size_splits")
        return [x] * (n if is_int(n) else len(n))
    return [x]
