"""The h5py fallback of the static reader, isolated in a child process.

:mod:`inspector.readers.hdf5.lite` reads the HDF5 files Keras writes. A file it cannot read
(:class:`~inspector.readers.hdf5.lite.H5Unsupported`: a feature Keras never uses, such as external
dataset storage, compound attribute types or user-defined links) is read with h5py
instead -- but *in a child process*: libhdf5 has crashed (SIGSEGV) and hung on corrupted
files (found by tests/test_fuzz.py), and a crash or hang there must become one clear error
line, not a dead inspector. The child (``python -m inspector.readers.hdf5.snapshot PATH OFFSET SIZE``)
walks the file's metadata through hard links only, reads group attributes only after
checking that they are text (see :func:`text_attr`), never reads dataset data, and prints a
JSON *snapshot*. :class:`SnapGroup` / :class:`SnapDataset` present that snapshot with
h5lite's interface, so :mod:`inspector.readers.weights` reads either the same way.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from inspector.errors import BadModelFile, TooLarge
from inspector.readers.hdf5.lite import ExternalLink, SoftLink

#: Wall-clock limit of the child; libhdf5 has looped forever on corrupted files.
CHILD_TIMEOUT_S = 30.0


class UserLink:
    """A user-defined HDF5 link (never followed)."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: int, name: str = ""):
        self.kind, self.name = kind, name


class NotText:
    """Stands for an attribute value that is not text (it was never read)."""

    __slots__ = ()


class AttrTooLarge:
    """Stands for a text attribute past the size caps (it was never read)."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what


# --------------------------------------------------------------------------- parent side
def snapshot(path: str, offset: int = 0, size: int | None = None) -> "SnapGroup":
    """The root group of the HDF5 file at bytes ``[offset, offset+size)`` of ``path``, read
    with h5py in a child process (see the module docstring)."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    import subprocess  # (only here: the fallback is rare, and start-up time counts)

    cmd = child_command(path, offset, size)
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=CHILD_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BadModelFile(f"libhdf5 did not finish reading the HDF5 metadata within {CHILD_TIMEOUT_S:.0f} s "
                           "(corrupt file?)") from None
    if done.returncode < 0:
        raise BadModelFile(f"libhdf5 crashed reading the HDF5 metadata (signal {-done.returncode}; corrupt file?)")
    try:
        data = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BadModelFile("reading the HDF5 metadata failed" + (f" ({tail[-1][:160]})" if tail else ""))
    if "error" in data:
        kind, message = data["error"], str(data.get("message", ""))[:200]
        raise (TooLarge if kind == "toolarge" else BadModelFile)(message)
    return SnapFile(data).root


def child_command(path: str, offset: int, size: int | None) -> list[str]:
    """The child's command line (a function so tests can stand in a crashing child)."""
    return [sys.executable, "-m", "inspector.readers.hdf5.snapshot", path, str(offset), str(-1 if size is None else size)]


class SnapFile:
    """A snapshot dict: ``objects`` by address, ``root`` the root group's address."""

    def __init__(self, data: dict[str, Any]):
        self.objects: dict[str, dict[str, Any]] = data["objects"]
        self.root = SnapGroup(self, data["root"], "/")

    def node(self, key: str, path: str) -> Any:
        entry = self.objects[key]
        return SnapGroup(self, key, path) if entry["t"] == "g" else SnapDataset(self, key, path)


class _SnapNode:
    __slots__ = ("_file", "addr", "name")

    def __init__(self, file: SnapFile, key: str, name: str):
        self._file, self.addr, self.name = file, key, name

    @property
    def _entry(self) -> dict[str, Any]:
        return self._file.objects[self.addr]

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _attr_value(v) for k, v in (self._entry.get("attrs") or {}).items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SnapNode) and other._file is self._file and other.addr == self.addr

    def __hash__(self) -> int:
        return hash(self.addr)


def _attr_value(v: Any) -> Any:
    if isinstance(v, dict):
        return AttrTooLarge(v["toolarge"]) if "toolarge" in v else NotText()
    return v


class SnapGroup(_SnapNode):
    """A group of a snapshot, with h5lite.Group's interface."""

    __slots__ = ()

    def keys(self) -> list[str]:
        return list(self._entry["links"])

    def get(self, name: str, default: Any = None) -> Any:
        link = self._entry["links"].get(name)
        return default if link is None else self._child(name, link)

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self._child(k, link)) for k, link in self._entry["links"].items()]

    def __contains__(self, name: object) -> bool:
        return name in self._entry["links"]

    def _child(self, key: str, link: Any) -> Any:
        path = self.name + key if self.name == "/" else self.name + "/" + key
        if isinstance(link, str):
            return self._file.node(link, path)
        if link[0] == "soft":
            return SoftLink(link[1], path)
        if link[0] == "ext":
            return ExternalLink(link[1], link[2], path)
        return UserLink(link[1], path)

    def walk(self) -> list[tuple[str, Any]]:
        """Every object under this group once, depth-first in name order (as h5lite's walk)."""
        out: list[tuple[str, Any]] = []
        seen = {self.addr}
        stack: list[Any] = [self]
        while stack:
            node = stack.pop()
            if node is not self:
                out.append((node.name, node))
            if not isinstance(node, SnapGroup):
                continue
            kids = []
            for key, link in node._entry["links"].items():
                if isinstance(link, str):
                    if link in seen:
                        continue
                    seen.add(link)
                kids.append(node._child(key, link))
            stack += reversed(kids)
        return out


class SnapDataset(_SnapNode):
    """A dataset of a snapshot: shape, dtype and storage kind (its data was never read)."""

    __slots__ = ()

    @property
    def shape(self) -> tuple[int, ...] | None:
        s = self._entry["shape"]
        return None if s is None else tuple(s)

    @property
    def dtype(self) -> str:
        return self._entry["dtype"]

    @property
    def storage(self) -> str | None:
        """None, ``"external:<first file>"`` or ``"virtual"``."""
        return self._entry.get("storage")


# --------------------------------------------------------------------------- child side
def text_attr(obj: Any, name: str) -> Any:
    """An attribute as JSON: text (str / list of str), ``[]`` for an empty array, or a marker
    dict. The type and size are checked *before* the value is read: libhdf5 has crashed and
    hung converting corrupted attributes whose type was flipped from a string to a
    variable-length sequence."""
    import h5py

    from inspector.readers.limits import MAX_ATTR_BYTES, MAX_ATTR_ITEMS  # the caps the parent applies too

    aid = obj.attrs.get_id(name)
    space = aid.get_space()
    if space.get_simple_extent_type() == h5py.h5s.SIMPLE and space.get_simple_extent_npoints() == 0:
        return []  # tf-keras writes an empty float64 array for layers without weights
    if aid.get_type().get_class() != h5py.h5t.STRING:
        return {"nontext": True}
    if space.get_simple_extent_npoints() > MAX_ATTR_ITEMS:
        return {"toolarge": f"holds more than {MAX_ATTR_ITEMS:,} values"}
    if aid.get_storage_size() > MAX_ATTR_BYTES:
        return {"toolarge": f"is {aid.get_storage_size()} bytes (limit {MAX_ATTR_BYTES})"}
    value = obj.attrs[name]
    if hasattr(value, "tolist"):
        value = value.tolist()
    return _jsonable(value)


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v if isinstance(v, str) else {"nontext": True}


def _dataset(ds: Any) -> dict[str, Any]:
    import h5py

    entry: dict[str, Any] = {"t": "d", "shape": None, "dtype": "unknown"}
    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        entry["storage"] = "external:" + plist.get_external(0)[0].decode("utf-8", "replace")
    elif plist.get_layout() == h5py.h5d.VIRTUAL:
        entry["storage"] = "virtual"
    space = ds.id.get_space()
    shape = space.get_simple_extent_dims() if space.get_simple_extent_type() != h5py.h5s.NULL else None
    entry["shape"] = None if shape is None else [int(d) for d in shape]
    try:
        entry["dtype"] = str(ds.dtype)
    except Exception:  # exotic HDF5 types: shapes still count
        pass
    return entry


def walk_file(f: Any) -> dict[str, Any]:
    """The snapshot of an open h5py file (hard links followed, nothing else)."""
    import h5py

    from inspector.readers.limits import MAX_H5_OBJECTS as MAX_OBJECTS

    h5l = h5py.h5l

    def key(obj: Any) -> str:
        return str(h5py.h5o.get_info(obj.id).addr)

    root = key(f)
    objects: dict[str, dict[str, Any]] = {}
    stack = [(root, f)]
    queued = {root}
    while stack:
        gkey, g = stack.pop()
        found: list[tuple[bytes, int]] = []
        g.id.links.iterate(lambda name, info: found.append((name, info.type)), info=True)
        links: dict[str, Any] = {}
        for raw, kind in found:
            name = raw.decode("utf-8", "surrogateescape")
            if kind == h5l.TYPE_HARD:
                obj = g[name]
                k = key(obj)
                links[name] = k
                if k in queued:
                    continue
                queued.add(k)
                if len(queued) > MAX_OBJECTS:
                    return {"error": "toolarge", "message": f"the HDF5 file holds more than {MAX_OBJECTS:,} objects"}
                if isinstance(obj, h5py.Group):
                    stack.append((k, obj))
                elif isinstance(obj, h5py.Dataset):
                    objects[k] = _dataset(obj)
                else:
                    objects[k] = {"t": "d", "shape": None, "dtype": "datatype"}
            elif kind == h5l.TYPE_SOFT:
                links[name] = ["soft", g.id.links.get_val(raw).decode("utf-8", "replace")]
            elif kind == h5l.TYPE_EXTERNAL:
                filename, path = (t.decode("utf-8", "replace") for t in g.id.links.get_val(raw))
                links[name] = ["ext", filename, path]
            else:
                links[name] = ["ud", int(kind)]
        objects[gkey] = {"t": "g", "links": links, "attrs": {n: text_attr(g, n) for n in g.attrs.keys()}}
    return {"root": root, "objects": objects}


def _main(argv: list[str]) -> int:
    path, offset, size = argv[0], int(argv[1]), int(argv[2])
    try:
        import h5py

        from inspector.readers.archive import WindowFile

        with open(path, "rb") as raw:
            end = os.fstat(raw.fileno()).st_size
            window = WindowFile(raw, offset, (end - offset) if size < 0 else size)
            with h5py.File(window, "r") as f:
                out = walk_file(f)
    except MemoryError:
        out = {"error": "toolarge", "message": "the HDF5 metadata needs more memory than allowed"}
    except Exception as e:  # h5py's OSError/KeyError/RuntimeError variants on corrupt data
        text = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        out = {"error": "corrupt", "message": f"the HDF5 file is corrupt or truncated ({text})"}
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
