"""Atomic output: write to a temp file beside the target, rename at the end.

A failed or interrupted write leaves no partial file, and an output path that
is an input (model or data) is refused before anything is written. SIGTERM and
SIGHUP are turned into :class:`Terminated` while an output is being written, so
the same cleanup runs as for Ctrl-C (a batch scheduler's ``scancel`` or a
closed terminal must not leave hidden full-size ``.tmp-*`` files behind).
Problems writing (permission denied, disk full, ...) become one
:class:`InspectorError` naming the user's output path, not the temp file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import tempfile
import threading
from typing import Iterator

from inspector.errors import InspectorError

#: Signals that end a run cleanly: temp files removed, exit code 128 + signum.
CLEAN_EXIT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))

#: errno values of an OSError that mean "this output cannot be written" whatever file it names.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP as an exception: a KeyboardInterrupt, so every cleanup that
    handles Ctrl-C (temp files, TensorFlow's fd capture) handles it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Terminated` (main thread, default handlers only).

    Handlers a host program installed itself are left alone, and nested uses
    are no-ops; the previous handlers are restored on exit.
    """
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in CLEAN_EXIT_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_DFL:
                saved[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file (also before either exists: same resolved path)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(out: str, *inputs: str, what: str = "input model") -> None:
    """Refuse to write over an input file (the input must never be modified)."""
    for src in inputs:
        if src and os.path.exists(out) and _same_file(out, src):
            raise InspectorError(f"output path is the {what}; refusing to overwrite it", out)


def check_distinct(*outputs: str) -> None:
    """Refuse two outputs of one command that are the same file (the second would replace the first)."""
    for i, a in enumerate(outputs):
        for b in outputs[i + 1:]:
            if a and b and _same_file(a, b):
                raise InspectorError(f"two outputs are the same file ({a} and {b}); give each its own path", b)


def cannot_write(e: OSError, out: str) -> InspectorError:
    """An OSError met while writing ``out``, worded for the user and naming ``out``."""
    reason = (e.strerror or type(e).__name__).lower() if not isinstance(e, InspectorError) else str(e)
    return InspectorError(f"cannot write ({reason})", out)


def is_write_error(e: OSError, *paths: str) -> bool:
    """Whether ``e`` is about writing one of ``paths`` (or is a full/read-only disk)."""
    if e.errno in _WRITE_ERRNOS:
        return True
    names = {os.path.abspath(p) for p in paths if p}
    return any(f is not None and os.path.abspath(os.fspath(f)) in names for f in (e.filename, e.filename2))


def check_writable(out: str) -> None:
    """Fail now, before a slow model load, when ``out``'s directory is missing or not writable.

    The test is the real operation (create and remove a temp file there), so
    ACLs, read-only mounts and dropped capabilities are all judged correctly.
    """
    directory = os.path.dirname(os.path.abspath(out)) or "."
    if not os.path.isdir(directory):
        raise InspectorError("output directory does not exist", out)
    if os.path.isdir(out):
        raise InspectorError("output path is a directory", out)
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    except OSError as e:
        raise cannot_write(e, out) from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_path(out: str) -> Iterator[str]:
    """Yield a temp path in the target's directory; rename it to ``out`` only on success."""
    directory = os.path.dirname(os.path.abspath(out)) or "."
    if not os.path.isdir(directory):
        raise InspectorError("output directory does not exist", out)
    with terminate_as_exception():
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(out), dir=directory)
        except OSError as e:
            raise cannot_write(e, out) from None
        try:
            os.close(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
            yield tmp
            os.replace(tmp, out)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if is_write_error(e, tmp, out, directory):
                raise cannot_write(e, out) from None
            raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def write_text(out: str, text: str) -> None:
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
