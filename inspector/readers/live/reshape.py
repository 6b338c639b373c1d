"""``--load --input NAME=SHAPE``: a functional model's own layers called on inputs of concrete shapes.

A keras-hub backbone leaves its sequence length open (``token_ids (None, None)``), so
its attention products, and hence its MACs, have no size. Giving ``--input
token_ids=128`` re-runs the model's layers (the same layer objects: same weights,
same parameter counts) on ``keras.Input`` tensors of that shape, with
``keras.models.clone_model(..., clone_function=lambda layer: layer)``, and the walk
then reads that graph: every shape below the inputs is Keras's own answer for a
sequence of 128. The dtype is the model's input dtype unless the spec names another.
"""
from __future__ import annotations

from typing import Any

from inspector.errors import InspectorError
from inspector.readers.live.specs import InputSpec


def with_input_shapes(model: Any, specs: list[InputSpec]) -> Any:
    """``model`` rebuilt over inputs of the given shapes (batch dimension left open)."""
    import keras

    tensors = list(model.inputs)
    names = [t._keras_history[0].name for t in tensors]
    given = {s.name: s for s in specs}
    unknown = [n for n in given if n not in names]
    if unknown:
        raise InspectorError(f"--input {unknown[0]}: the model has no input of that name (its inputs: "
                             f"{', '.join(f'{n} {tuple(t.shape)}' for n, t in zip(names, tensors))})")
    new = []
    for name, t in zip(names, tensors):
        s = given.get(name)
        if s is None:
            new.append(keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=name))
            continue
        shape = (None, *s.shape)
        if len(shape) != len(t.shape) or any(a is not None and b is not None and a != b
                                             for a, b in zip(shape[1:], tuple(t.shape)[1:])):
            raise InspectorError(f"--input {s}: the model's input {name!r} has shape {tuple(t.shape)}; only its "
                                 "open (None) dimensions can be set")
        dtype = s.dtype if s.dtype != "float32" else t.dtype
        new.append(keras.Input(batch_shape=shape, dtype=dtype, name=name))
    struct = keras.tree.pack_sequence_as(model._inputs_struct, new)
    try:
        return keras.models.clone_model(model, input_tensors=struct, clone_function=lambda layer: layer)
    except Exception as e:   # a layer that cannot take the new shape says why
        raise InspectorError(f"--input: the model's layers refuse these shapes: "
                             f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
