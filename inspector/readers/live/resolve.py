"""Any MODEL argument (a model file, or Python code: ``file.py:NAME`` / ``module:NAME``)
as a live ``keras.Model``, for the paths that run the model (extract, graft, features)."""
from __future__ import annotations

from typing import Any

from inspector.errors import BadModelFile, InspectorError
from inspector.readers.live.loading import load_model
from inspector.readers.live.nodes import has_graph
from inspector.readers.live.specs import is_python_spec, parse_args, parse_inputs, resolve_spec
from inspector.readers.live.trace import TraceFailed, trace


def open_keras_model(model: str, load: bool = False, unsafe: bool = False,
                     inputs: tuple[str, ...] = (), args: tuple[str, ...] = (), allow_code: bool = False, *,
                     functional: bool = True, checked: bool = False) -> Any:
    """A live ``keras.Model`` for any MODEL form (for commands that run the model).

    Files are always loaded with Keras (``load`` is implied; safe mode unless
    ``unsafe``). With ``functional`` (the default), a model without a layer
    graph (subclassed) is replaced by its functional twin from
    :func:`inspector.readers.live.trace.trace`, which shares its layers and weights, so
    intermediate layer outputs can be addressed; a model whose call fails, or
    that can only be traced eagerly, raises an :class:`InspectorError`. ``checked``: the
    caller has read the file statically already (:func:`inspector.readers.live.loading.load_model`
    then does not read it again).
    """
    if is_python_spec(model):
        if load:
            raise InspectorError("--load is for model files; a Python spec is already a live model", model)
        obj = _resolve(model, args)
    else:
        if args:
            raise InspectorError("--arg only applies to a Python spec (file.py:NAME or module:NAME)", model)
        try:
            obj = load_model(model, unsafe=unsafe, allow_code=allow_code, checked=checked)
        except BadModelFile as e:
            raise _keras2_hint(e, model) from None
    if not functional or has_graph(obj):
        return obj
    result = trace(obj, parse_inputs([str(s) for s in inputs]) or None)   # strings or InputSpecs
    if result.error is not None:
        raise TraceFailed(result, model)
    if result.twin is None:
        raise InspectorError("the model could only be traced by running it eagerly (Python control flow on "
                             "tensor values, or raw TensorFlow ops), so there is no functional graph to take "
                             "layer outputs from", model)
    return result.twin


def _keras2_hint(error: BadModelFile, path: str) -> BadModelFile:
    """Keras 3's refusal, plus what to do when the file is a Keras 2 one (read again: the failure path only)."""
    from inspector.readers.live.loading import keras2_file
    from inspector.readers.static import read_file

    try:
        keras2 = keras2_file(read_file(path, allow_code=True))
    except InspectorError:
        keras2 = False
    if not keras2:
        return error
    return BadModelFile(f"{error.message}; this is a legacy Keras 2 file: `inspector summary/render --load` "
                        "can load it with tf-keras, but extract, graft and features need a model Keras 3 loads", path)


def _resolve(model: str, args: tuple[str, ...]) -> Any:
    return resolve_spec(model, parse_args(args))
