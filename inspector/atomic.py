"""Atomic output: write to a temp file beside the target, rename at the end.

A failed or interrupted write leaves no partial file, and an output path that
is the input model itself is refused before anything is written.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from .errors import InspectorError


def check_not_input(out: str, *inputs: str) -> None:
    """Refuse to write over an input file (the input must never be modified)."""
    for src in inputs:
        try:
            if os.path.exists(out) and os.path.samefile(out, src):
                raise InspectorError("output path is the input model; refusing to overwrite it", out)
        except OSError:
            continue


@contextlib.contextmanager
def atomic_path(out: str) -> Iterator[str]:
    """Yield a temp path in the target's directory; rename it to ``out`` only on success."""
    directory = os.path.dirname(os.path.abspath(out)) or "."
    if not os.path.isdir(directory):
        raise InspectorError("output directory does not exist", out)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(out), dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(out: str, text: str) -> None:
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
