"""Loading models with Keras (the live path). Imports TensorFlow/Keras lazily.

Safe mode is always on unless the caller passes ``unsafe=True`` explicitly:
Keras then refuses to deserialise Lambda bytecode and arbitrary functions.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from inspector.errors import BadModelFile, InspectorError, UnsafeModel
from inspector.graph import ModelGraph


def import_keras() -> Any:
    """Keras, imported on first use.

    TensorFlow's C++ start-up chatter (absl/CUDA notices written straight to
    file descriptor 2) would break the CLI's one-line error contract, so the
    first import runs with fd 2 captured; the capture is replayed if the
    import fails (then it explains why), and set ``INSPECTOR_DEBUG=1`` to see it always.
    """
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" in sys.modules or os.environ.get("INSPECTOR_DEBUG"):
        import keras

        return keras
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras

            # device set-up (CUDA probing and its "failed call to cuInit" line) happens on
            # the first tensor, not on import: trigger it while fd 2 is still captured
            keras.ops.convert_to_tensor(0.0)
        except BaseException as e:
            os.dup2(saved, 2)
            if not isinstance(e, KeyboardInterrupt):   # Ctrl-C / SIGTERM: the chatter explains nothing
                capture.seek(0)
                sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras


@dataclass
class Loaded:
    """A model file loaded for the live path, and how.

    ``static``: the file's static graph (None when the caller had read it already);
    ``tf_keras``: tf-keras's version when Keras 3 could not load the (legacy) file and
    tf-keras did, ``reason`` then says why Keras 3 could not."""

    model: Any
    static: ModelGraph | None = None
    tf_keras: str | None = None
    reason: str | None = None


def load_model(path: str, unsafe: bool = False, compile: bool = False, allow_code: bool = False,
               checked: bool = False) -> Any:
    """``keras.models.load_model`` with safe mode, errors worded for users (Keras 3 only; see :func:`load_file`)."""
    return load_file(path, unsafe=unsafe, compile=compile, allow_code=allow_code, checked=checked).model


def load_file(path: str, unsafe: bool = False, compile: bool = False, allow_code: bool = False,
              checked: bool = False, legacy: bool = False) -> Loaded:
    """Load ``path`` with Keras 3 in safe mode; with ``legacy``, a Keras 2 file Keras 3 refuses
    is loaded with tf-keras when it is installed (the error names ``pip install tf-keras`` when not).

    The file is validated statically first, so corrupt or hostile files never reach Keras;
    Lambda bytecode passes that check with ``unsafe`` (the user trusts the file) or
    ``allow_code`` (Keras's safe mode then refuses it, with our message). A file with code
    (Lambda bytecode, named functions) never goes to tf-keras without ``unsafe``: tf-keras's
    legacy HDF5 loader has no safe mode. ``checked``: the caller has just read the file
    statically itself (same rules), so it is not read twice. Keras's warnings during a
    failed attempt are dropped (they would come before, and bury, our one error line)."""
    static = None
    if not checked:
        from inspector.readers.static import read_file
        from inspector.readers.weight_tree import refuse_weights_only

        static = read_file(path, allow_code=allow_code or unsafe)
        refuse_weights_only(static, path)
    if unsafe:
        import sys

        print(f"warning: {path}: --unsafe: Keras safe mode is OFF; code stored in this file "
              "(e.g. Lambda bytecode) may run", file=sys.stderr)
    keras = import_keras()
    try:
        with _quiet() as caught:
            model = keras.models.load_model(path, safe_mode=not unsafe, compile=compile)
    except Exception as e:
        error = _keras_error(e, path)
        if error is None:
            raise
        if not (legacy and keras2_file(static) and (unsafe or not _has_code(static))) \
                or isinstance(error, UnsafeModel):
            raise error from None
        return _load_tf_keras(path, static, error, unsafe, compile)
    _replay(caught)
    return Loaded(model, static)


def _keras_error(e: Exception, path: str) -> InspectorError | None:
    """Keras 3's failure as our error (None: not a failure to load, e.g. a bug to report as one)."""
    msg = str(e)
    if isinstance(e, ValueError) and ("safe_mode" in msg or "Lambda" in msg or "unsafe" in msg.lower()):
        return UnsafeModel("the model contains code (e.g. a Lambda layer); nothing was run. Keras runs it "
                           "only with --load --unsafe: use that only for files you trust (without --load, "
                           "the file is read statically and its code is shown, never run)", path)
    if isinstance(e, TypeError):
        return BadModelFile(f"Keras could not load the model (custom class not importable?): "
                            f"{msg.splitlines()[0][:200] if msg else type(e).__name__}", path)
    if isinstance(e, (ValueError, KeyError, AttributeError, NotImplementedError, OSError)):
        return BadModelFile(f"Keras could not load the model: {_reason(e)}", path)
    return None


def _load_tf_keras(path: str, static: ModelGraph | None, error: InspectorError, unsafe: bool,
                   compile: bool) -> Loaded:
    """The legacy file through tf-keras (Keras 2), after Keras 3 refused it with ``error``."""
    reason = error.message.split(": ", 1)[-1]
    try:
        import tf_keras
    except ImportError:
        raise BadModelFile(f"Keras 3 could not load this legacy Keras 2 file ({reason}); tf-keras can: "
                           "pip install tf-keras, then run again", path) from None
    import logging

    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)   # tf-keras's "No training configuration found" and the like
    try:
        with _quiet():
            model = tf_keras.models.load_model(path, safe_mode=not unsafe, compile=compile)
    except Exception as e:
        raise BadModelFile(f"neither Keras 3 nor tf-keras could load the model: Keras 3: {reason}; "
                           f"tf-keras: {_reason(e)}", path) from None
    finally:
        tf_log.setLevel(level)
    return Loaded(model, static, tf_keras=str(tf_keras.__version__), reason=reason)


def keras2_file(static: ModelGraph | None) -> bool:
    """Saved by Keras 2 / tf-keras (or an old .h5 that does not say): what tf-keras may load."""
    if static is None:
        return False
    version = str(static.meta.get("keras_version") or "")
    return version[:1] in ("1", "2") or (not version and static.meta.get("format") == "h5-legacy")


def _has_code(g: ModelGraph) -> bool:
    """Any node, at any nesting depth, holding Lambda bytecode or naming a Python function."""
    stack = [g]
    while stack:
        sub = stack.pop()
        if any(a.get("code") or a.get("function") for _, a in sub.store.nodes(data=True)):
            return True
        stack.extend(sub.subgraphs.values())
    return False


def _reason(e: BaseException) -> str:
    """An exception as one short clause: its first sentence (Keras's advice after it dropped)."""
    msg = (str(e).strip().splitlines() or [""])[0] or type(e).__name__
    head = msg.split(". ", 1)[0].rstrip(".")
    return (head if len(head) <= 200 else head[:197] + "...")


@contextlib.contextmanager
def _quiet() -> Iterator[list]:
    """Warnings raised meanwhile, caught (not printed) into the yielded list."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _replay(caught: list) -> None:
    """Show warnings caught during a load that worked, as Python would have."""
    seen: set[tuple] = set()
    for w in caught:
        if (str(w.message), w.category) not in seen:   # once each, as Python's default filter shows them
            seen.add((str(w.message), w.category))
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
