"""Data a feature extractor reads: ``.npy`` / ``.npz`` arrays and directories of images.

Arrays are read a row range at a time with ``pread`` (never mapped or loaded
whole), so memory follows the batch, not the file. Every problem (a truncated
array, an object dtype, an undecodable image, names or shapes that do not match
the extractor's inputs) is an :class:`InspectorError` naming the file at fault,
raised before the first batch where it can be.
"""
from __future__ import annotations

import functools
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.errors import InspectorError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


# --------------------------------------------------------------------------- readers
@dataclass
class ArraySource:
    """One array stored in a file at a byte offset, read a row range at a time."""

    name: str
    path: str
    shape: tuple
    dtype: np.dtype
    offset: int = 0
    member: str | None = None      # compressed .npz member: streamed instead of pread
    _fallback: Any = None          # Fortran-order arrays: np.load(mmap_mode="r")
    _stream: Any = None            # open compressed member; forward seeks are cheap, so kept open

    @property
    def rows(self) -> int:
        return int(self.shape[0]) if self.shape else 1

    def read(self, start: int, stop: int) -> np.ndarray:
        row_shape = tuple(self.shape[1:])
        n = max(0, stop - start)
        if self._fallback is not None:
            return np.array(self._fallback[start:stop])
        row_bytes = int(np.prod(row_shape, dtype=np.int64)) * self.dtype.itemsize
        if self.member is not None:
            if self._stream is None:
                self._stream = zipfile.ZipFile(self.path).open(self.member)
            self._stream.seek(self.offset + start * row_bytes)
            buf = self._stream.read(n * row_bytes)
        else:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                buf = os.pread(fd, n * row_bytes, self.offset + start * row_bytes)
            finally:
                os.close(fd)
        if len(buf) != n * row_bytes:
            raise InspectorError(f"array {self.name!r} is truncated (file shorter than its header says)", self.path)
        return np.frombuffer(buf, dtype=self.dtype).reshape((n, *row_shape))


def _npy_header(f: Any, path: str, name: str) -> tuple[tuple, np.dtype, bool]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=1 << 20)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=1 << 20)
        else:
            raise ValueError(f".npy format version {version} is not supported")
    except Exception as e:  # numpy raises ValueError/EOFError variants on junk
        raise InspectorError(f"{name + ': ' if name else ''}not a valid .npy array "
                             f"({str(e).splitlines()[0][:120]})", path) from None
    if dtype.hasobject:
        raise InspectorError(f"{name + ': ' if name else ''}object arrays are not supported (they need pickle)",
                             path)
    return tuple(shape), dtype, bool(fortran)


def open_arrays(path: str) -> dict[str, ArraySource]:
    """The arrays of a ``.npy`` (named ``""``) or ``.npz`` file, without reading their data."""
    if not os.path.exists(path):
        raise InspectorError("no such file or directory", path)
    try:
        if zipfile.is_zipfile(path):
            return _open_npz(path)
        with open(path, "rb") as f:
            shape, dtype, fortran = _npy_header(f, path, "")
            src = ArraySource("", path, shape, dtype, f.tell())
    except zipfile.BadZipFile as e:
        raise InspectorError(f"not a readable .npz archive ({e})", path) from None
    except OSError as e:
        raise InspectorError(f"cannot read: {e.strerror or e}", path) from None
    if fortran:
        src._fallback = np.load(path, mmap_mode="r")
    return {"": src}


def _open_npz(path: str) -> dict[str, ArraySource]:
    out = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as raw:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            if info.compress_type == zipfile.ZIP_STORED:
                raw.seek(info.header_offset)
                local = raw.read(30)
                start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") \
                    + int.from_bytes(local[28:30], "little")
                raw.seek(start)
                shape, dtype, fortran = _npy_header(raw, path, name)
                src = ArraySource(name, path, shape, dtype, raw.tell())
            else:
                with z.open(info) as f:
                    shape, dtype, fortran = _npy_header(f, path, name)
                    src = ArraySource(name, path, shape, dtype, f.tell(), member=info.filename)
            if fortran:
                src._fallback = np.load(path)[name]   # rare: numpy cannot map a Fortran member lazily
            out[name] = src
    if not out:
        raise InspectorError("not an .npy/.npz file (a zip archive with no .npy arrays)", path)
    return out


@dataclass
class ImageSource:
    """Images of a directory (recursive, Keras's file order) decoded and resized to (height, width, channels)."""

    path: str
    files: list[str]
    shape: tuple            # (rows, H, W, C)
    dtype: np.dtype = field(default_factory=lambda: np.dtype("float32"))
    name: str = ""

    @property
    def rows(self) -> int:
        return len(self.files)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` decoded and resized to the input's (H, W, C), as float32.

        With TensorFlow installed, as ``keras.utils.image_dataset_from_directory`` does it
        (``tf.io.decode_image`` then bilinear ``tf.image.resize``), whatever the Keras
        backend; without it (JAX or PyTorch backend, no TensorFlow), as Keras's own
        backend-neutral loader does: ``keras.utils.load_img`` (Pillow, bilinear)."""
        _, h, w, c = self.shape
        out = np.empty((max(0, stop - start), h, w, c), dtype="float32")
        decode = _decoder()
        for i, f in enumerate(self.files[start:stop]):
            out[i] = decode(f, h, w, c)
        return out


@functools.cache
def _decoder() -> Any:
    """The image decoder of this process, chosen once: TensorFlow's when installed, else Pillow's."""
    return _tf_decoder() or _pillow_decoder()


def _tf_decoder() -> Any:
    """TensorFlow's decode + resize, or None when TensorFlow is not installed."""
    try:
        import tensorflow as tf
    except ImportError:
        return None

    def decode(f: str, h: int, w: int, c: int) -> np.ndarray:
        try:
            raw = tf.io.read_file(f)
        except tf.errors.OpError as e:   # TF's text names its kernels; the user needs the reason
            raise InspectorError(f"cannot read image ({_os_reason(e)})", f) from None
        try:
            img = tf.io.decode_image(raw, channels=c, expand_animations=False)
        except tf.errors.OpError:
            raise InspectorError("cannot decode image (not a valid JPEG, PNG, BMP or GIF file)", f) from None
        return tf.image.resize(img, (h, w)).numpy()   # bilinear, as image_dataset_from_directory

    return decode


def _pillow_decoder() -> Any:
    """``keras.utils.load_img`` (Pillow): Keras's image loader on every backend."""
    import keras

    modes = {1: "grayscale", 3: "rgb", 4: "rgba"}

    def decode(f: str, h: int, w: int, c: int) -> np.ndarray:
        try:
            img = keras.utils.load_img(f, color_mode=modes[c], target_size=(h, w), interpolation="bilinear")
        except ImportError:
            raise InspectorError("reading images without TensorFlow needs Pillow: pip install pillow", f) from None
        except OSError as e:
            reason = "permission denied" if isinstance(e, PermissionError) else \
                "no such file" if isinstance(e, FileNotFoundError) else \
                "not a valid JPEG, PNG, BMP or GIF file"
            raise InspectorError(f"cannot read image ({reason})", f) from None
        return keras.utils.img_to_array(img, dtype="float32").reshape(h, w, c)

    return decode


def _os_reason(e: Any) -> str:
    """A TensorFlow file error as the reason a user understands (permission denied, ...)."""
    import tensorflow as tf

    known = {tf.errors.PermissionDeniedError: "permission denied", tf.errors.NotFoundError: "no such file"}
    return next((v for k, v in known.items() if isinstance(e, k)), type(e).__name__)


def open_images(path: str, spec: Any) -> ImageSource:
    """Image files under ``path`` for an image model's single (H, W, C) input."""
    shape = tuple(spec.shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3, 4) or None in shape[:2]:
        raise InspectorError(f"a directory of images needs an image input of shape (height, width, 1|3|4); "
                             f"the extractor's input {spec.name!r} has shape {tuple(spec.shape)}", path)
    # Keras's order (image_dataset_from_directory, labels=None): directories sorted, then files in each
    files = [os.path.join(d, f) for d, _, fs in sorted(os.walk(path), key=lambda w: w[0])
             for f in sorted(fs) if f.lower().endswith(IMAGE_SUFFIXES)]
    if not files:
        raise InspectorError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in the directory", path)
    return ImageSource(path, files, (len(files), *shape))


def match_inputs(ext: Any, data: str) -> dict[str, Any]:
    """Map the extractor's inputs to sources in ``data``, checking names and shapes first.

    Extra arrays are ignored (an ``.npz`` made for the whole model feeds a pruned
    extractor). Every error names what was expected and what was given.
    """
    specs = ext.inputs
    if os.path.isdir(data):
        if len(specs) != 1:
            raise InspectorError("a directory of images can feed only a single-input extractor; this one needs "
                                 + ", ".join(s.name for s in specs), data)
        return {specs[0].name: open_images(data, specs[0])}
    arrays = open_arrays(data)
    expected = ", ".join(f"{s.name} {tuple(s.shape)}" for s in specs) or "(unknown)"
    given = ", ".join(f"{k or '<npy>'} {a.shape}" for k, a in arrays.items())
    if not specs:                       # hook path without recorded build shapes: feed as given
        matched = {k: a for k, a in arrays.items()}
    elif "" in arrays:
        if len(specs) != 1:
            raise InspectorError(f"a single .npy array cannot feed {len(specs)} inputs (expected {expected}); "
                                 "pass an .npz with one array per input name", data)
        matched = {specs[0].name: arrays[""]}
    else:
        matched = {}
        for s in specs:
            hit = next((arrays[a] for a in (s.name, *s.aliases) if a in arrays), None)
            if hit is None:
                raise InspectorError(f"no array for input {s.name!r}: expected arrays {expected}; given {given}",
                                     data)
            matched[s.name] = hit
    for s in specs:
        src = matched[s.name]
        want = tuple(s.shape[1:])
        have = tuple(src.shape[1:])
        if len(src.shape) < 1 or len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
            raise InspectorError(f"input {s.name!r}: expected shape {tuple(s.shape)} (batch first), "
                                 f"given {tuple(src.shape)}", data)
        if src.dtype.kind not in "biuf":
            raise InspectorError(f"input {s.name!r}: dtype {src.dtype} is not numeric", data)
    rows = {k: a.rows for k, a in matched.items()}
    if len(set(rows.values())) > 1:
        raise InspectorError("arrays have different numbers of rows: "
                             + ", ".join(f"{k}={v}" for k, v in rows.items()), data)
    return matched
