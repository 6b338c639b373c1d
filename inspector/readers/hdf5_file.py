"""Reading the HDF5 bytes of a model or weights file: h5lite in-process, else an h5py child.

Shared by the static reader, the keras-hub preset reader and the weights check, below all of
them (so none of them imports another to open a file).
"""
from __future__ import annotations

from typing import Any, BinaryIO, Callable, TypeVar

from inspector.errors import BadModelFile, InspectorError
from inspector.readers.archive import WindowFile
from inspector.readers.hdf5 import lite as h5lite
from inspector.readers.hdf5 import snapshot as h5snapshot

T = TypeVar("T")


def read_hdf5(path: str, stream: BinaryIO, body: Callable[[Any], T], unreadable: str) -> T:
    """``body(root group)`` over the HDF5 bytes of ``stream``, read with :mod:`inspector.readers.hdf5.lite`;
    if the file uses a feature h5lite does not support, once more over an h5py snapshot
    taken in a child process (:mod:`inspector.readers.hdf5.snapshot`: a libhdf5 crash or hang on a
    hostile file ends there, as one clear error). ``unreadable`` starts the error message
    for bytes that are not HDF5 at all."""
    if isinstance(stream, WindowFile):
        fileobj, start, size = stream.region()
    else:
        fileobj, start, size = stream, 0, None
    try:
        lite = h5lite.File(fileobj, offset=start, size=size)
    except h5lite.H5Corrupt as e:
        raise BadModelFile(f"{unreadable} ({_short(e)}; truncated?)", path) from None
    except h5lite.H5Unsupported:
        lite = None
    if lite is not None:
        try:
            return body(lite.root)
        except h5lite.H5Unsupported:
            pass
    if fileobj is stream and not hasattr(fileobj, "name"):  # inflated in memory: the child needs a file
        import shutil
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="inspector-", suffix=".h5") as tmp:
            stream.seek(0)
            shutil.copyfileobj(stream, tmp)
            tmp.flush()
            root = with_path(path, h5snapshot.snapshot, tmp.name)
            return body(root)
    root = with_path(path, h5snapshot.snapshot, path, start, size)
    return body(root)


def with_path(path: str, fn: Any, *args: Any) -> Any:
    """Call ``fn``; an InspectorError it raises without a file name gets ``path``."""
    try:
        return fn(*args)
    except InspectorError as e:
        if e.path is None:
            e.path = path
        raise


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:160]
