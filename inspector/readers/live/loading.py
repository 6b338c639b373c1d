"""Loading models with Keras (the live path). Imports TensorFlow/Keras lazily.

Safe mode is always on unless the caller passes ``unsafe=True`` explicitly:
Keras then refuses to deserialise Lambda bytecode and arbitrary functions.
"""
from __future__ import annotations

import os
from typing import Any

from inspector.errors import BadModelFile, UnsafeModel


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


def load_model(path: str, unsafe: bool = False, compile: bool = False, allow_code: bool = False,
               checked: bool = False) -> Any:
    """``keras.models.load_model`` with safe mode, errors worded for users.

    The file is validated statically first, so corrupt or hostile files never reach Keras;
    Lambda bytecode passes that check with ``unsafe`` (the user trusts the file) or
    ``allow_code`` (Keras's safe mode then refuses it, with our message). ``checked``: the
    caller has just read the file statically itself (same rules), so it is not read twice."""
    if not checked:
        from inspector.readers.static import read_file

        read_file(path, allow_code=allow_code or unsafe)
    if unsafe:
        import sys

        print(f"warning: {path}: --unsafe: Keras safe mode is OFF; code stored in this file "
              "(e.g. Lambda bytecode) may run", file=sys.stderr)
    keras = import_keras()
    try:
        return keras.models.load_model(path, safe_mode=not unsafe, compile=compile)
    except ValueError as e:
        msg = str(e)
        if "safe_mode" in msg or "Lambda" in msg or "unsafe" in msg.lower():
            raise UnsafeModel("the model contains code (e.g. a Lambda layer); nothing was run. Keras runs it "
                              "only with --load --unsafe: use that only for files you trust (without --load, "
                              "the file is read statically and its code is shown, never run)", path) from None
        raise BadModelFile(f"Keras could not load the model: {msg.splitlines()[0] if msg else type(e).__name__}",
                           path) from None
    except TypeError as e:
        raise BadModelFile(f"Keras could not load the model (custom class not importable?): "
                           f"{str(e).splitlines()[0][:200]}", path) from None
