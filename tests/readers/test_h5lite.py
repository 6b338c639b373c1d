"""inspector.readers.hdf5.lite (pure-Python HDF5 metadata reader) against h5py on the files Keras and h5py write.

Every traversal compares, object by object and in order, the keys, kinds, shapes, dtypes and
attribute values h5lite reads with what h5py reads. Corrupt input (truncation, random byte
flips) may only ever raise H5Corrupt / H5Unsupported.
"""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.readers.hdf5 import lite as h5lite
from inspector.readers.hdf5.lite import H5Corrupt, H5Unsupported


# --------------------------------------------------------------------------- helpers
def _value(v):
    """An h5py attribute value in h5lite's plain-Python form."""
    if isinstance(v, h5py.Empty):
        return None
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def h5py_tree(f: h5py.Group) -> list[tuple]:
    """Depth-first, name-ordered listing of every object, as h5py reads it."""
    out, seen, stack = [], set(), [f]
    while stack:
        g = stack.pop()
        kids = []
        for key in g.keys():
            path = g.name.rstrip("/") + "/" + key
            link = g.get(key, getlink=True)
            if isinstance(link, h5py.SoftLink):
                kids.append(("soft", path, link.path))
                continue
            if isinstance(link, h5py.ExternalLink):
                kids.append(("ext", path, link.filename, link.path))
                continue
            obj = g[key]
            addr = h5py.h5o.get_info(obj.id).addr
            if addr in seen:
                continue
            seen.add(addr)
            attrs = {k: _value(obj.attrs[k]) for k in obj.attrs}
            if isinstance(obj, h5py.Dataset):
                kids.append(("dataset", path, obj.shape, str(obj.dtype), attrs))
            else:
                kids.append(("group", path, attrs, obj))
        for kid in reversed(kids):
            stack.append(kid)
        while stack and not isinstance(stack[-1], h5py.Group):
            kid = stack.pop()
            if kid[0] == "group":
                out.append(kid[:3])
                stack.append(kid[3])
                break
            out.append(kid)
    return out


def lite_tree(f: h5lite.File) -> list[tuple]:
    out = []
    for path, obj in f.root.walk():
        if isinstance(obj, h5lite.SoftLink):
            out.append(("soft", path, obj.path))
        elif isinstance(obj, h5lite.ExternalLink):
            out.append(("ext", path, obj.filename, obj.path))
        elif isinstance(obj, h5lite.Dataset):
            out.append(("dataset", path, obj.shape, obj.dtype, obj.attrs))
        else:
            out.append(("group", path, obj.attrs))
    return out


def assert_same(path_or_bytes, **open_kw) -> list[tuple]:
    """h5lite reads exactly what h5py reads: objects, order, shapes, dtypes, attributes."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        hf, lf = h5py.File(io.BytesIO(path_or_bytes), "r"), h5lite.File(io.BytesIO(path_or_bytes))
    else:
        hf, lf = h5py.File(path_or_bytes, "r"), h5lite.File.open(path_or_bytes, **open_kw)
    with hf, lf:
        expected = h5py_tree(hf)
        got = lite_tree(lf)
        assert got == expected
        root_attrs = {k: _value(hf.attrs[k]) for k in hf.attrs}
        assert lf.root.attrs == root_attrs
        assert list(lf.root.attrs) == list(hf.attrs)  # same order too
        assert lf.root.keys() == list(hf.keys())
    return got


# --------------------------------------------------------------------------- h5py-made files
def _populate(f: h5py.File, n_many: int) -> None:
    f.attrs["vlen_str"] = "héllo wörld"
    f.attrs["vlen_from_bytes"] = b"abc"
    f.attrs["fixed_bytes"] = np.bytes_(b"fixed\0\0")
    f.attrs["fixed_list"] = np.array([b"conv2d", b"dense_1", b""])
    f.attrs["vlen_list"] = ["a", "bé", ""]
    f.attrs["empty_f64"] = np.zeros((0,), "f8")
    f.attrs["int"] = np.int64(-7)
    f.attrs["u8"] = np.uint8(200)
    f.attrs["i16_arr"] = np.array([1, -2, 3], "<i2")
    f.attrs["f32"] = np.float32(1.5)
    f.attrs["f16_arr"] = np.array([0.5, -2], "f2")
    f.attrs["big_endian"] = np.array([1, 2], ">i4")
    f.attrs["bool"] = True
    f.attrs["bool_arr"] = np.array([True, False])
    f.attrs["matrix"] = np.arange(6, dtype="f8").reshape(2, 3)
    f.attrs["empty"] = h5py.Empty("f4")
    f.attrs["long_vlen"] = "x" * 100_000  # lands in its own global heap collection
    d = f.create_group("data")
    d.create_dataset("f16", data=np.zeros((3, 4), "f2"))
    d.create_dataset("f32", data=np.zeros((2, 3, 5), "f4"))
    d.create_dataset("f64_be", data=np.zeros((2,), ">f8"))
    for t in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"):
        d.create_dataset(t, data=np.zeros((2,), t))
    d.create_dataset("bool", data=np.array([True, False]))
    d.create_dataset("scalar", data=np.float32(3))
    d.create_dataset("empty", shape=(0, 7), dtype="f4")
    d.create_dataset("null", data=h5py.Empty("i4"))
    d.create_dataset("chunked", data=np.zeros((100, 10), "f4"), chunks=(10, 10), compression="gzip",
                     shuffle=True, maxshape=(None, 10))
    d.create_dataset("vstr", data=np.array(["a", "bc"], dtype=h5py.string_dtype()))
    d.create_dataset("fixed_str", data=np.array([b"ab", b"c"]))
    d.create_dataset("opaque_bf16", data=np.zeros((3,), "V2"))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    d.create_dataset("compact", data=np.zeros((4,), "f4"), dcpl=dcpl)
    ds = d["f32"]
    ds.attrs["dtype"] = "float32"
    ds.attrs["weight_names"] = np.array([b"kernel:0", b"bias:0"])
    many = f.create_group("many")
    for i in range(n_many):
        g = many.create_group(f"layer_{i:04d}")
        if i % 10 == 0:
            g.create_dataset("kernel", data=np.zeros((i % 7 + 1, 3), "f4"))
            g.attrs["weight_names"] = [f"kernel_{i}"]
    deep = f
    for i in range(40):
        deep = deep.create_group(f"level{i}")
    f["links/soft"] = h5py.SoftLink("/data/f32")
    f["links/dangling"] = h5py.SoftLink("/nowhere")
    f["links/ext"] = h5py.ExternalLink("other.h5", "/some/path")
    f["links/hard_again"] = f["data/f16"]  # a second hard link: listed once, like h5py.visit


@pytest.mark.parametrize("libver", ["earliest", "latest", "v108"])
@pytest.mark.parametrize("n_many", [5, 150])
def test_h5py_files_match(tmp_path, libver, n_many):
    path = str(tmp_path / "f.h5")
    with h5py.File(path, "w", libver=libver) as f:
        _populate(f, n_many)
    got = assert_same(path)
    with h5lite.File.open(path) as f:
        assert f.root.get("data/f32").shape == (2, 3, 5)
        assert f.root.get("/data").get("/data/f32").dtype == "float32"
        assert f.root.get("data").get("f16").name == "/data/f16"
        assert f.root.get("data/null").shape is None
        assert f.root.get("data/scalar").shape == ()
        assert f.root.get("data/bool").dtype == "bool"
        assert f.root.get("data/opaque_bf16").dtype == "|V2"
        assert f.root.get("nope") is None and f.root.get("data/nope", 1) == 1
        assert f.root.get("data/f32/x") is None  # through a dataset
        assert isinstance(f.root.get("links/soft"), h5lite.SoftLink)
        assert f.root.get("links/ext").filename == "other.h5"
        assert f.root.get("data/f16").refcount == 2
        assert f.root.get("data/f16") == f.root.get("links/hard_again")
        assert f.root.get("data/f16").addr == f.root.get("links/hard_again").addr
        with pytest.raises(H5Unsupported):
            f.root.get("links/soft/x")  # never through a soft link
        assert "data" in f.root and "zzz" not in f.root and len(f.root) == len(list(f.root)) >= 4
        assert f.root.attrs["fixed_list"] == [b"conv2d", b"dense_1", b""]
        assert f.root.attrs["vlen_from_bytes"] == "abc"
    assert len(got) > n_many


def test_track_order_and_userblock(tmp_path):
    path = str(tmp_path / "t.h5")
    with h5py.File(path, "w", track_order=True, userblock_size=1024) as f:
        for name in ("zeta", "alpha", "mid"):
            f.create_group(name).attrs[name] = 1
        for i in range(20):
            f.attrs[f"a{19 - i}"] = i
        g = f.create_group("plain", track_order=False)
        for name in ("b", "a"):
            g.create_group(name)
    with open(path, "r+b") as fh:
        fh.write(b"user block text")
    got = assert_same(path)
    assert [p for _, p, *_ in got][:3] == ["/zeta", "/alpha", "/mid"]


def test_dense_storage_large_groups(tmp_path):
    """libver='latest' groups past 8 links use a fractal heap + v2 B-tree: read like h5py."""
    path = str(tmp_path / "dense.h5")
    with h5py.File(path, "w", libver="latest") as f:
        g = f.create_group("g")
        for i in range(6000):  # enough for an indirect fractal heap block and a 2-level B-tree
            g[f"link_{i:05d}_" + "y" * 40] = h5py.SoftLink("/t" * (i % 9 + 1))
        g.create_group("real").create_dataset("w", data=np.zeros((2,), "f4"))
        for i in range(500):
            g.attrs[f"attr_{i:04d}"] = "v" * (i % 30) if i % 2 else i
    assert_same(path)


def test_unsupported_structures(tmp_path):
    path = str(tmp_path / "u.h5")
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("compound", data=np.zeros((2,), [("a", "i4"), ("b", "f8")]))
        f.create_dataset("ext_storage", shape=(4,), dtype="f4", external=[("raw.bin", 0, 16)])
        f["named"] = np.dtype("f4")  # a committed datatype
        f.create_dataset("typed", shape=(2,), dtype=f["named"])
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource("other.h5", "x", shape=(4,))
        f.create_virtual_dataset("virtual", layout)
        f.create_group("g").attrs["huge"] = np.zeros(40_000, "f8")  # a "huge" fractal-heap object
        for i in range(10):
            f["g"].attrs[f"a{i}"] = i
    with h5lite.File.open(path) as f:
        with pytest.raises(H5Unsupported):
            f.root.get("compound").dtype
        assert f.root.get("compound").shape == (2,)
        for name in ("ext_storage", "named", "virtual"):
            with pytest.raises(H5Unsupported):
                f.root.get(name)
        assert f.root.get("typed").dtype == "float32"  # a committed type is followed
        with pytest.raises(H5Unsupported):
            f.root.get("g").attrs


def test_custom_bfloat16_type(tmp_path):
    """An HDF5 16-bit float with an 8-bit exponent is bfloat16 (h5py widens it to float32)."""
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_offset(0)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    path = str(tmp_path / "bf16.h5")
    with h5py.File(path, "w") as f:
        h5py.h5d.create(f.id, b"w", t, h5py.h5s.create_simple((3, 2)))
        h5py.h5a.create(f.id, b"a", t, h5py.h5s.create_simple((2,))).write(
            np.array([1.5, -2.0], "f4"), mtype=h5py.h5t.IEEE_F32LE)
    with h5lite.File.open(path) as f:
        assert (f.root.get("w").shape, f.root.get("w").dtype) == ((3, 2), "bfloat16")
        assert f.root.attrs == {"a": [1.5, -2.0]}


# --------------------------------------------------------------------------- Keras files
def _functional_model(keras):
    from keras import layers

    inner_in = keras.Input((5, 8))
    inner = keras.Model(inner_in, layers.Dense(4, name="inner_dense")(inner_in), name="inner")
    i = keras.Input((5, 8), name="x")
    x = layers.BatchNormalization()(i)
    x = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    x = inner(x)
    return keras.Model(i, layers.Dense(2)(x), name="outer")


class _Window(io.RawIOBase):
    """A seekable view of a byte range (like inspector.readers.archive.WindowFile)."""

    def __init__(self, f, start, size):
        super().__init__()
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, off, whence=0):
        self.pos = {0: off, 1: self.pos + off, 2: self.size + off}[whence]
        return self.pos

    def tell(self):
        return self.pos

    def readinto(self, b):
        n = max(0, min(len(b), self.size - self.pos))
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)


def _member_range(path: str, member: str) -> tuple[int, int]:
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
        assert info.compress_type == zipfile.ZIP_STORED
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def test_keras3_weights_in_zip(keras, tmp_path):
    model = _functional_model(keras)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        data = z.read("model.weights.h5")
    got = assert_same(bytes(data))
    assert sum(1 for t in got if t[0] == "dataset") == len(model.weights)
    start, size = _member_range(path, "model.weights.h5")
    with open(path, "rb") as fh:  # in place: offset/size into the zip, and a window object
        for f in (h5lite.File(fh, offset=start, size=size), h5lite.File(_Window(fh, start, size))):
            with f:
                assert lite_tree(f) == got
    # bfloat16 / float16 variables (h5py stores ml_dtypes.bfloat16 as opaque |V2)
    for policy in ("bfloat16", "float16"):
        keras.config.set_dtype_policy(policy)
        try:
            small = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            small.save(str(tmp_path / f"{policy}.keras"))
        finally:
            keras.config.set_dtype_policy("float32")
        with zipfile.ZipFile(str(tmp_path / f"{policy}.keras")) as z:
            assert_same(z.read("model.weights.h5"))


def test_keras3_legacy_h5(keras, tmp_path):
    model = _functional_model(keras)
    path = str(tmp_path / "m.h5")
    model.save(path)
    assert_same(path)
    with h5lite.File.open(path) as f:
        attrs = f.root.attrs
        assert isinstance(attrs["model_config"], str) and '"class_name"' in attrs["model_config"]
        assert attrs["keras_version"] == keras.__version__
        mw = f.root.get("model_weights")
        assert all(isinstance(n, (str, bytes)) for n in mw.attrs["layer_names"])


def test_tf_keras_h5(tmp_path):
    import tf_keras  # noqa: F401  (a test requirement: missing fails, never skips)
    path = str(tmp_path / "tfk.h5")
    code = (
        "import tf_keras as k\n"
        "i = k.Input((5, 8)); x = k.layers.BatchNormalization()(i)\n"
        "x = k.layers.MultiHeadAttention(2, 4)(x, x); x = k.layers.Flatten()(x)\n"
        "x = k.layers.Dense(3)(x); x = k.layers.Dropout(0.1)(x)\n"
        f"k.Model(i, x).save({path!r})\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300, capture_output=True)
    assert_same(path)
    with h5lite.File.open(path) as f:
        mw = f.root.get("model_weights")
        names = mw.attrs["layer_names"]
        names = [n.decode() if isinstance(n, bytes) else n for n in names]  # |S.. or vlen, by version
        assert "dense" in names
        assert mw.get("dropout").attrs["weight_names"] == []  # the empty float64 array
        assert isinstance(f.root.attrs["model_config"], str)


# --------------------------------------------------------------------------- corrupt files
def test_cycle_and_refcount(tmp_path):
    path = str(tmp_path / "c.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("g")
        g.create_dataset("w", data=np.zeros(2))
        g["self"] = g  # a hard-link cycle
        f["g/sub"] = f  # and one back to the root
    with h5lite.File.open(path) as f:
        items = f.root.walk()  # ends: each object once
        assert [p for p, _ in items] == ["/g", "/g/w"]
        assert f.root.get("g").refcount == 2
        assert f.root.get("g/self/self/self/w").shape == (2,)
        assert f.root.get("g/sub/g/sub").addr == f.root.addr


def _small_file(libver: str) -> bytes:
    bio = io.BytesIO()
    with h5py.File(bio, "w", libver=libver) as f:
        f.attrs["model_config"] = '{"class_name": "Functional"}'
        f.attrs["layer_names"] = np.array([b"dense", b"add"])
        g = f.create_group("model_weights")
        for i in range(12 if libver == "latest" else 3):
            sub = g.create_group(f"l{i}")
            sub.attrs["weight_names"] = [f"w{i}"] if i % 2 else np.zeros((0,))
            sub.create_dataset("k", data=np.zeros((2, i + 1), "f4"))
        g["soft"] = h5py.SoftLink("/x")
        for i in range(10):
            g.attrs[f"a{i}"] = "s" * i
    return bio.getvalue()


SMALL = {v: _small_file(v) for v in ("earliest", "latest")}


def _read_all(data: bytes) -> None:
    with h5lite.File(io.BytesIO(data)) as f:
        for _, obj in f.root.walk():
            if isinstance(obj, h5lite.Dataset):
                obj.shape, obj.dtype, obj.attrs
            elif isinstance(obj, h5lite.Group):
                obj.attrs, obj.keys(), obj.get("l1/k")
        f.root.attrs


@pytest.mark.parametrize("libver", sorted(SMALL))
def test_truncated_files(libver):
    data = SMALL[libver]
    assert_same(data)
    step = max(1, len(data) // 300)
    for cut in list(range(0, len(data), step)) + [len(data) - 1]:
        with pytest.raises(H5Corrupt):
            _read_all(data[:cut])


def test_not_hdf5():
    for data in (b"", b"PK\x03\x04" + b"\0" * 100, b"\x89HDF\r\n\x1a\n" + b"\xff" * 64, b"\x89HDF\r\n\x1a\n\x09" + bytes(600)):
        with pytest.raises((H5Corrupt, H5Unsupported)):
            _read_all(data)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(libver=st.sampled_from(sorted(SMALL)),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=6))
def test_random_byte_flips(libver, flips):
    data = bytearray(SMALL[libver])
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    try:
        _read_all(bytes(data))
    except (H5Corrupt, H5Unsupported):
        pass


def test_continuation_loop_is_corrupt():
    """An object header continuation pointing back into the same header."""
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        g = f.create_group("g")
        for i in range(40):  # forces continuation blocks
            g.attrs[f"attr{i}"] = "v" * 50
    data = bytearray(bio.getvalue())
    with h5lite.File(io.BytesIO(bytes(data))) as f:
        addr = f.root.get("g").addr
    patched = 0
    p, end = addr + 16, addr + 16 + struct.unpack_from("<I", data, addr + 8)[0]
    while p + 8 <= end:
        t, n = struct.unpack_from("<HH", data, p)
        if t == 0x10:
            struct.pack_into("<Q", data, p + 8, addr + 16 - 0)  # back to the first chunk
            struct.pack_into("<Q", data, p + 16, end - addr - 16)
            patched += 1
        p += 8 + n
    assert patched
    with pytest.raises(H5Corrupt):
        with h5lite.File(io.BytesIO(bytes(data))) as f:
            f.root.get("g").attrs


def test_no_h5py_or_numpy_import():
    """h5lite itself imports only the standard library."""
    code = ("import sys, inspector; before = set(sys.modules); import inspector.readers.hdf5.lite\n"
            "new = sorted(set(sys.modules) - before)\n"
            "assert not [m for m in new if m.split('.')[0] in ('h5py', 'numpy')], new\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
