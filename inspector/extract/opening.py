"""Opening the model a cut is taken from: the file read once statically, then once by Keras.

The static read (no TensorFlow) is the file's validation *and* the cheap checks: layer
references (and, for a graft, the head names and sizes) are checked against the saved
graph, so a typo costs a fraction of a second rather than a TensorFlow start-up. Keras
then loads the file without reading it statically again. The cut itself is taken from the
live reader's graph (:mod:`inspector.extract.cut_graph`), built once from the loaded model.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Sequence

from inspector.errors import InspectorError
from inspector.extract.cut_graph import CutGraph, cut_graph
from inspector.graph import ModelGraph
from inspector.readers.live.twins import functional_of

#: A check of the saved graph run before Keras is imported (e.g. a graft's head names and sizes).
StaticCheck = Callable[[ModelGraph, str], None]


def check_refs(graph: ModelGraph, refs: Sequence[Any], path: str) -> None:
    """Every layer reference resolves in the saved graph (``model.layers`` indexes are left to Keras)."""
    for ref in refs:
        s = str(ref).strip()
        if re.fullmatch(r"-?\d+", s):
            continue
        try:
            graph.resolve(s)
        except KeyError as e:
            raise InspectorError(str(e.args[0]), path) from None


def static_checks(path: str, unsafe: bool, refs: Sequence[Any], check: StaticCheck | None) -> None:
    """Read ``path`` statically (its one static read) and run the cheap checks on its graph.

    Models saved without a layer graph (custom model classes) have nothing to check
    against: their references are checked on the loaded model, with the same rules.
    """
    from inspector.readers.static import read_file
    from inspector.readers.weight_tree import refuse_weights_only

    graph = read_file(path, allow_code=unsafe)
    refuse_weights_only(graph, path)
    if graph.meta.get("opaque") or not len(graph):
        return
    check_refs(graph, refs, path)
    if check is not None:
        check(graph, path)


def open_model(source: Any, *, unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = (),
               refs: Sequence[Any] = (), check: StaticCheck | None = None) -> tuple[Any, str | None]:
    """``(keras.Model, path or None)`` for a model object or a path/spec.

    A model file is read statically once (validation, plus ``refs`` and ``check`` against
    its graph) and loaded by Keras once, in safe mode unless ``unsafe``. A Python spec
    ``file.py:NAME`` is code the user asked to run; it is resolved as it is. Subclassed
    models come back untraced: :func:`functional_of` traces them, keeping the eager-hook
    fallback.
    """
    if isinstance(source, (str, os.PathLike)):
        from inspector.readers.live.specs import is_python_spec

        path = os.fspath(source)
        spec = is_python_spec(path)
        if not spec:
            static_checks(path, unsafe, refs, check)
        from inspector.readers.live.resolve import open_keras_model

        model = open_keras_model(path, unsafe=unsafe, args=tuple(args), functional=False, checked=not spec)
        return model, path
    from inspector.readers.live.loading import import_keras

    keras = import_keras()
    if isinstance(source, keras.Model):
        return source, None
    raise InspectorError(f"expected a keras.Model or a path to a model file, got {type(source).__name__}")


def open_cut(source: Any, *, unsafe: bool = False, input_specs: Any = None, args: Sequence[str] = (),
             refs: Sequence[Any] = (), check: StaticCheck | None = None
             ) -> tuple[Any, CutGraph | None, str | None, str | None]:
    """``(model, cut graph or None, path, why there is no graph)`` for :func:`open_model`'s arguments.

    None for the graph means the model can only be run eagerly (see
    :class:`~inspector.readers.live.twins.HookExtractor`); a model whose call fails
    at once raises the trace's own explanation.
    """
    model, path = open_model(source, unsafe=unsafe, input_specs=input_specs, args=args, refs=refs, check=check)
    fn, why, failure, walked = functional_of(model, input_specs)
    if fn is None:
        if failure is not None:   # the call fails at once: the trace's own explanation
            from inspector.readers.live.trace import TraceFailed

            raise TraceFailed(failure, path)
        return model, None, path, why
    return model, cut_graph(model, fn, path, failure, walked), path, why
