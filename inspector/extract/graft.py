"""Grafting new heads onto a layer of an existing model (the seed's ``difficulty`` example).

``graft(model, at="dense", heads=["difficulty:3:softmax"])`` returns a model with
the original outputs plus a fresh ``Dense(3, softmax)`` reading ``dense``'s
output, exactly what the seed does by hand with ``model.layers[4].output``. The
original layer objects are reused, so their weights are the original weights;
only the new heads are freshly initialised.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from inspector.errors import InspectorError

POOLS = ("auto", "avg", "max", "flatten", "none")

#: Most parameters one new head may have (1 GiB of float32): a typo like ``d:99999999999``
#: must be refused up front, not found by TensorFlow failing to allocate the kernel.
MAX_HEAD_PARAMS = 2**28


@dataclass(frozen=True)
class HeadSpec:
    """A new Dense head: ``NAME:UNITS[:ACTIVATION]``."""

    name: str
    units: int
    activation: str | None = None

    @classmethod
    def parse(cls, text: str | "HeadSpec", path: str | None = None) -> "HeadSpec":
        """Parse ``difficulty:3:softmax`` (activation optional, default linear)."""
        if isinstance(text, HeadSpec):
            return text
        parts = str(text).split(":")
        if len(parts) not in (2, 3) or not parts[0] or not re.fullmatch(r"\d+", parts[1]) or int(parts[1]) < 1:
            raise InspectorError(f"bad head {text!r}: expected NAME:UNITS[:ACTIVATION] with UNITS a positive "
                                 "integer, e.g. difficulty:3:softmax", path)
        if "/" in parts[0]:
            raise InspectorError(f"bad head name {parts[0]!r}: layer names cannot contain '/'", path)
        return cls(parts[0], int(parts[1]), (parts[2] or None) if len(parts) == 3 else None)


def parse_heads(heads: Sequence[str | HeadSpec], path: str | None = None, cap_units: bool = True
                ) -> list[HeadSpec]:
    """Parse every head (no Keras needed), refusing duplicate names and (``cap_units``) absurd unit
    counts; the exact parameter count needs the width at the graft point (:func:`check_head_size`)."""
    if not heads:
        raise InspectorError("give at least one --head NAME:UNITS[:ACTIVATION]")
    specs = [HeadSpec.parse(h, path) for h in heads]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise InspectorError(f"head name {spec.name!r} is given twice; each --head needs its own name", path)
        seen.add(spec.name)
        if cap_units and spec.units > MAX_HEAD_PARAMS:   # whatever it reads, at least one weight per unit
            raise InspectorError(f"head {spec.name!r}: {spec.units:,} units make at least {spec.units:,} "
                                 f"parameters, more than the {MAX_HEAD_PARAMS:,} a head may have", path)
    return specs


def check_head_names(specs: Sequence[HeadSpec], taken: set[str], path: str | None) -> None:
    """Refuse a head named like a layer of the model (Keras would refuse the duplicate later, less clearly)."""
    for spec in specs:
        if spec.name in taken:
            raise InspectorError(f"head name {spec.name!r} is already a layer of the model; pick another name",
                                 path)


def check_head_size(spec: HeadSpec, in_dim: int | None, path: str | None) -> None:
    """Refuse a head whose Dense kernel would be absurdly large, saying how large."""
    if in_dim is None:
        return
    params = (int(in_dim) + 1) * spec.units
    if params > MAX_HEAD_PARAMS:
        raise InspectorError(f"head {spec.name!r} would have {params:,} parameters ({int(in_dim):,} inputs x "
                             f"{spec.units:,} units + biases), more than the {MAX_HEAD_PARAMS:,} a head may have",
                             path)


def pooled_width(shape: Sequence[int | None], pool: str) -> int | None:
    """The last dimension a head sees after :func:`_pooled` (None when unknown)."""
    shape = tuple(shape)
    if pool == "flatten" and len(shape) > 2:
        dims = shape[1:]
        return None if None in dims else int(math.prod(dims))
    return shape[-1] if shape else None


def _check_activation(spec: HeadSpec, path: str | None) -> None:
    import keras

    if spec.activation is None:
        return
    try:
        keras.activations.get(spec.activation)
    except (ValueError, TypeError):
        names = [n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize",
                                                                                          "deserialize")]
        import difflib

        close = difflib.get_close_matches(spec.activation, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InspectorError(f"head {spec.name!r}: unknown activation {spec.activation!r}{hint}", path) from None


def _pooled(x: Any, pool: str, name: str) -> Any:
    """Reduce a feature map to one vector per sample so a Dense head outputs (batch, units).

    ``auto`` averages over the spatial/time axes of a rank-3..5 tensor (the usual
    transfer-learning choice) and leaves a rank-2 tensor alone.
    """
    import keras

    rank = len(x.shape)
    if pool == "none" or rank <= 2:
        return x
    if pool == "flatten":
        return keras.layers.Flatten(name=f"{name}_flatten")(x)
    kind = "avg" if pool == "auto" else pool
    if rank not in (3, 4, 5):
        raise InspectorError(f"cannot pool a rank-{rank} tensor; use --pool flatten or none")
    dims = {3: "1D", 4: "2D", 5: "3D"}[rank]
    cls = getattr(keras.layers, f"Global{'Average' if kind == 'avg' else 'Max'}Pooling{dims}")
    return cls(name=f"{name}_pool")(x)


def static_head_check(specs: Sequence[HeadSpec], at: Any, pool: str) -> Callable[[Any, str], None]:
    """The heads checked against the saved graph, before Keras: names free, sizes sane at ``at``'s width."""
    def check(graph: Any, path: str) -> None:
        check_head_names(specs, {a.get("name") for _, a in graph.nodes()}, path)
        ref = str(at).strip()
        if re.fullmatch(r"-?\d+", ref):   # a model.layers index: the width is known once loaded
            return
        shapes = graph.node(graph.resolve(ref)).get("output_shapes")
        if shapes and len(shapes) == 1 and shapes[0]:
            for spec in specs:
                check_head_size(spec, pooled_width(shapes[0], pool), path)
    return check


def _check_options(pool: str, seed: int | None) -> None:
    if pool not in POOLS:
        raise InspectorError(f"unknown pool {pool!r}; one of {', '.join(POOLS)}")
    if seed is not None and not 0 <= int(seed) < 2**32:
        raise InspectorError(f"seed must be between 0 and 2**32 - 1, not {seed}")


def graft(model_or_path: Any, at: Any, heads: Sequence[str | HeadSpec], *, keep_outputs: bool = True,
          pool: str = "auto", seed: int | None = None, unsafe: bool = False, input_specs: Any = None,
          args: Sequence[str] = ()) -> Any:
    """A new model: the original outputs (unless ``keep_outputs=False``) plus new Dense heads at ``at``.

    With ``keep_outputs`` the new model takes all the original inputs and its
    outputs are the original outputs followed by the heads (a dict gains the head
    names as keys). With ``keep_outputs=False`` the outputs are the heads alone and
    the inputs only those ``at`` depends on. ``pool`` decides how a feature map
    (rank > 2) becomes a vector before the head (see :func:`_pooled`).

    A model file is read statically once (``at``, the head names and sizes are checked
    there, before TensorFlow starts) and loaded by Keras once.
    """
    from inspector.extract.cut_graph import whole_graph
    from inspector.extract.opening import open_cut

    _check_options(pool, seed)
    source = os.fspath(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else None
    # a file's saved graph gives the exact size of each head below; a live model is capped up front
    specs = parse_heads(heads, source, cap_units=source is None)
    _, cg, path, why = open_cut(model_or_path, unsafe=unsafe, input_specs=input_specs, args=args, refs=[at],
                                check=static_head_check(specs, at, pool))
    return graft_graph(whole_graph(cg, why, path, "grafting"), at, specs, keep_outputs=keep_outputs, pool=pool,
                       seed=seed)


def graft_graph(cg: Any, at: Any, specs: Sequence[HeadSpec], *, keep_outputs: bool = True, pool: str = "auto",
                seed: int | None = None) -> Any:
    """:func:`graft` on an opened :class:`~inspector.extract.cut_graph.CutGraph` with parsed heads."""
    import keras

    path = cg.path
    taken = {layer.name for layer in cg.fn._flatten_layers(include_self=True, recursive=False)}
    check_head_names(specs, taken | {a.get("name") for _, a in cg.graph.nodes()}, path)
    for spec in specs:
        _check_activation(spec, path)
    nid = cg.resolve(at)
    outs = cg.nodes[nid].outputs
    if len(outs) != 1:
        raise InspectorError(f"layer {nid!r} has {len(outs)} outputs; graft onto a single-output layer", path)
    features = outs[0]
    for spec in specs:
        check_head_size(spec, pooled_width(features.shape, pool), path)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    base = _pooled(features, pool, specs[0].name if len(specs) == 1 else f"{nid.replace(':', '_')}_graft")
    new = {s.name: keras.layers.Dense(s.units, activation=s.activation, name=s.name)(base) for s in specs}
    if keep_outputs:
        inputs = cg.fn._inputs_struct
        struct = cg.fn._outputs_struct
        outputs: Any = ({**struct, **new} if isinstance(struct, dict)
                        else [*keras.tree.flatten(struct), *new.values()])
    else:
        inputs = cg.input_structure(cg.needed_inputs([nid]))
        outputs = next(iter(new.values())) if len(new) == 1 else list(new.values())
    return keras.Model(inputs, outputs, name=f"{cg.fn.name}_grafted")
