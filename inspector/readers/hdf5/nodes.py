"""The objects :class:`inspector.readers.hdf5.lite.File` hands out: groups, datasets and the
links it reports but never follows, over the object headers the file parses (``_Obj``).
Every public method is guarded: only H5Corrupt / H5Unsupported ever leave it."""
from __future__ import annotations

import functools
import gc
import struct
from typing import Any, Callable, TypeVar

from inspector.readers.hdf5 import messages as msg
from inspector.readers.hdf5.messages import H5Corrupt, H5Unsupported

T = TypeVar("T")


def _guard(fn: Callable[..., T]) -> Callable[..., T]:
    """Only H5Corrupt / H5Unsupported ever leave the public API."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (H5Corrupt, H5Unsupported):
            raise
        except Exception as e:  # IndexError, struct.error, MemoryError, RecursionError, OSError, ...
            raise H5Corrupt(f"corrupt HDF5 structure ({type(e).__name__}: {str(e)[:120]})") from None

    return wrapper


class _Obj:
    """A parsed object header (cached per address): the first message of each type (flags,
    data), the attribute and link messages, and what kind of object it is."""

    __slots__ = ("addr", "first", "amsgs", "lmsgs", "refcount", "kind", "links", "attrs")

    def __init__(self, addr: int, first: dict, amsgs: list, lmsgs: list, refcount: int, kind: str):
        self.addr, self.first, self.amsgs, self.lmsgs, self.refcount, self.kind = addr, first, amsgs, lmsgs, refcount, kind
        self.links: dict | None = None
        self.attrs: dict | None = None


def _attr_name(d: bytes) -> bytes:
    nlen = struct.unpack_from("<H", d, 2)[0]
    p = 9 if d[0] == 3 else 8
    return d[p:p + nlen].rstrip(b"\0")


class _Node:
    __slots__ = ("_file", "_o", "name")

    def __init__(self, file: Any, obj: _Obj, name: str):  # file: lite.File
        self._file, self._o, self.name = file, obj, name

    @property
    def addr(self) -> int:
        return self._o.addr

    @property
    def refcount(self) -> int:
        return self._o.refcount

    @property
    @_guard
    def attrs(self) -> dict[str, Any]:
        return self._file._attrs(self._o)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._file is self._file and other._o is self._o  # type: ignore

    def __hash__(self) -> int:
        return hash(self._o.addr)

    def __repr__(self) -> str:
        return f"<h5lite {type(self).__name__} {self.name!r}>"


class Group(_Node):
    """A group: its links by name, sorted like h5py's ``keys()``."""

    __slots__ = ()

    @_guard
    def keys(self) -> list[str]:
        return list(self._file._links(self._o))

    @_guard
    def get(self, name: str, default: Any = None) -> Any:
        """What a name or an 'a/b' path names (hard links only before the last part), or ``default``.

        Soft and external links come back as SoftLink / ExternalLink (never followed)."""
        f = self._file
        if "/" not in name and name not in ("", "."):
            link = f._links(self._o).get(name)
            return default if link is None else f._child(self.name, name, link)
        node: Group = f.root if name.startswith("/") else self
        parts = [p for p in name.split("/") if p and p != "."]
        for i, part in enumerate(parts):
            link = f._links(node._o).get(part)
            if link is None:
                return default
            if i == len(parts) - 1:
                return f._child(node.name, part, link)
            if type(link) is not int:
                raise H5Unsupported(f"path {name!r} goes through a {link[0]} link")
            child = f._child(node.name, part, link)
            if not isinstance(child, Group):
                return default
            node = child
        return node

    @_guard
    def items(self) -> list[tuple[str, Any]]:
        f = self._file
        return [(k, f._child(self.name, k, link)) for k, link in f._links(self._o).items()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Any:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def walk(self) -> list[tuple[str, Any]]:
        """Every object under this group as (path, object), depth-first in name order. Each
        object comes once (hard-link cycles end); soft/external links are listed, not followed.

        The cyclic garbage collector is paused meanwhile: the walk allocates many small
        objects, and collections triggered by them could cost more than the walk."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._walk()
        finally:
            if enabled:
                gc.enable()

    @_guard
    def _walk(self) -> list[tuple[str, Any]]:
        f = self._file
        objs, load = f._objs, f._load
        out: list[tuple[str, Any]] = []
        seen = {self._o.addr}
        stack: list[Any] = [self]
        while stack:
            node = stack.pop()
            if node is not self:
                out.append((node.name, node))
            if type(node) is not Group:
                continue
            links = node._o.links
            if links is None:
                links = f._links(node._o)
            name = node.name
            prefix = name + "/" if name != "/" else name
            kids = []
            for key, link in links.items():
                if type(link) is int:
                    if link in seen:
                        continue
                    seen.add(link)
                    obj = objs.get(link) or load(link)
                    kind = obj.kind
                    if kind == "group":
                        kids.append(Group(f, obj, prefix + key))
                        continue
                    if kind == "dataset":
                        kids.append(Dataset(f, obj, prefix + key))
                        continue
                kids.append(f._child(name, key, link))
            if kids:
                kids.reverse()
                stack += kids
        return out


class Dataset(_Node):
    """A dataset's metadata: shape and dtype (its data is never read)."""

    __slots__ = ()

    @property
    @_guard
    def shape(self) -> tuple[int, ...] | None:
        flags, data = self._o.first[0x01]
        if flags & 2:
            raise H5Unsupported("shared dataspace")
        shapes = self._file._shapes
        shape = shapes.get(data, False)
        if shape is False:
            shape = msg.parse_dataspace(data, self._file._L)
            if len(shapes) < 100_000:
                shapes[data] = shape
        return shape

    @property
    @_guard
    def dtype(self) -> str:
        return self._file._dtype(*self._o.first[0x03]).name


class SoftLink:
    """A soft link (never followed): ``.path`` is its target; ``.name`` where it was found."""

    __slots__ = ("path", "name")

    def __init__(self, path: str, name: str = ""):
        self.path, self.name = path, name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SoftLink) and other.path == self.path

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<h5lite SoftLink to {self.path!r}>"


class ExternalLink:
    """An external link (never followed): object ``.path`` in file ``.filename``."""

    __slots__ = ("filename", "path", "name")

    def __init__(self, filename: str, path: str, name: str = ""):
        self.filename, self.path, self.name = filename, path, name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExternalLink) and (other.filename, other.path) == (self.filename, self.path)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<h5lite ExternalLink to {self.filename!r}:{self.path!r}>"
