"""Streaming statistics of one tensor, merged batch by batch in bounded memory.

Every number is over the tensor's *finite* values; NaN and ±Inf are only
counted (one NaN must not turn a layer's mean, std and histogram into NaN:
the counts say where NaNs are, the statistics still describe the rest).

* mean / std: each batch's mean and sum of squared deviations (float64), merged
  with Chan et al.'s parallel form of Welford's update, so no pass over the
  data is repeated and nothing is kept between batches. ``std`` is the
  population standard deviation (``numpy.std``, ``ddof=0``).
* min, max, mean |x|, fraction of exact zeros (of the finite values).
* NaN and Inf counts.
* dead units (ReLU-family outputs only, see :mod:`inspector.numerics.probes`):
  a channel is dead when it is never > 0, for any row and position; the
  fraction of dead channels.
* histogram: ``bins`` equal bins over ``[lo, hi]``, the finite min and max of
  the first batch that has finite values (widened by 0.5 either side when they
  are equal, as ``numpy.histogram`` does), fixed from then on; values of later
  batches outside it are counted in ``under`` / ``over``. Bin ``k`` holds
  ``edges[k] <= x < edges[k+1]``, the last bin also ``x == hi``: the counts are
  ``numpy.histogram(x, bins=edges)``'s.

numpy only: the model's layer outputs arrive here as arrays, one batch at a time.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Histogram bins unless told otherwise.
BINS = 32
#: Values per chunk: a float32 chunk, its float64 codes and scratch stay in a core's L2 cache.
CHUNK = 65536


class TensorStats:
    """Running statistics of one layer output; :meth:`update` with each batch, :meth:`result` at the end."""

    def __init__(self, bins: int = BINS, channel_axis: int | None = None):
        if not 1 <= bins <= 65535:
            raise ValueError(f"bins must be in 1..65535, got {bins}")
        self.bins, self.channel_axis = bins, channel_axis
        self.count = self.size = self.zeros = self.nan = self.inf = 0
        self.mean = self.m2 = self.abs_sum = 0.0
        self.min, self.max = math.inf, -math.inf
        self.edges: np.ndarray | None = None
        self.hist = np.zeros(bins, dtype=np.int64)
        self.under = self.over = 0
        self._counted = (0, 0)                    # under/over already taken out of the end bins
        self.active: np.ndarray | None = None     # per channel: ever > 0
        self.dtype: str | None = None
        self.row_shape: tuple | None = None

    # ------------------------------------------------------------------ update
    def update(self, batch: Any) -> None:
        """Fold one batch (rows first) into the statistics.

        The batch is swept in cache-sized chunks, each chunk's statistics merged as
        a small batch of its own: every pass over a chunk hits the CPU cache, where
        a pass over a whole 100 MB activation would go to main memory each time.
        """
        x = np.asarray(batch)
        self.dtype, self.row_shape = str(x.dtype), tuple(x.shape[1:])
        x = _as_float(x)
        if x is None or x.size == 0:
            return
        if self.channel_axis is not None:
            self._update_active(np.moveaxis(x, self.channel_axis % x.ndim, -1) if x.ndim > 1 else x)
        flat = np.ascontiguousarray(x).reshape(-1)
        if self.edges is None:
            self._set_edges(flat)
        scratch = np.empty(min(CHUNK, flat.size), dtype=flat.dtype)
        wide = np.empty(min(CHUNK, flat.size), dtype=np.float64)
        codes = np.empty(flat.size, dtype=np.uint8 if self.bins <= 256 else np.uint16)
        used = 0
        for start in range(0, flat.size, CHUNK):
            used += self._update_chunk(flat[start:start + CHUNK], scratch, wide, codes[used:])
        self._count(codes[:used])

    def _set_edges(self, flat: np.ndarray) -> None:
        """Histogram edges from this batch's finite range (none yet when it has no finite value)."""
        lo, hi = flat.min(), flat.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            finite = flat[np.isfinite(flat)]
            if not finite.size:
                return
            lo, hi = finite.min(), finite.max()
        lo, hi = float(lo), float(hi)
        a, b = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
        self.edges = np.linspace(a, b, self.bins + 1)

    def _update_chunk(self, v: np.ndarray, scratch: np.ndarray, wide: np.ndarray, codes: np.ndarray) -> int:
        """Merge one chunk; its histogram codes go to ``codes``. Returns how many codes were written."""
        lo, hi = v.min(), v.max()                  # NaN-propagating: finite -> every value is finite
        self.size += v.size
        if not (np.isfinite(lo) and np.isfinite(hi)):
            nan = int(np.count_nonzero(np.isnan(v)))
            finite = v[np.isfinite(v)]
            self.nan += nan
            self.inf += v.size - finite.size - nan
            if not finite.size:
                return 0
            v, lo, hi = finite, finite.min(), finite.max()
        n, lo, hi = v.size, float(lo), float(hi)
        total = float(v.sum())                     # pairwise in the chunk's dtype, merged in float64
        mean = total / n
        shift = v.dtype.type(mean)
        dev = np.subtract(v, shift, out=scratch[:n])
        m2 = float(np.dot(dev, dev)) - n * (mean - float(shift)) ** 2
        delta, merged = mean - self.mean, self.count + n
        self.m2 += max(m2, 0.0) + delta * delta * self.count * n / merged
        self.mean += delta * n / merged
        self.count = merged
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        self.abs_sum += total if lo >= 0 else -total if hi <= 0 else float(np.abs(v, out=scratch[:n]).sum())
        self.zeros += int(np.count_nonzero(v == 0))
        return self._codes(v, lo, hi, wide[:n], codes)

    def _codes(self, v: np.ndarray, lo: float, hi: float, wide: np.ndarray, codes: np.ndarray) -> int:
        """Histogram bin of each value, ``floor((x - a) * bins / (b - a))`` in float64 (one rounding per
        step, so a value on an edge that numbers like 0.25 or 25.0 can hold lands where numpy puts it).
        Exact ties aside, a value within ~1e-15 (relative) of an inner edge could fall on the other side
        of it than in numpy's searchsorted; the binning is otherwise ``numpy.histogram``'s."""
        a, b = float(self.edges[0]), float(self.edges[-1])
        if lo < a:
            self.under += int(np.count_nonzero(v < a))
        if hi > b:
            self.over += int(np.count_nonzero(v > b))
        np.subtract(v, a, out=wide, dtype=np.float64)
        np.multiply(wide, self.bins / (b - a), out=wide)
        np.clip(wide, 0, self.bins - 1, out=wide)  # below/above the range land in the end bins ...
        codes[:v.size] = wide                      # float -> int truncates: floor, the values being >= 0
        return v.size

    def _count(self, codes: np.ndarray) -> None:
        if not codes.size:
            return
        counts = count_codes(codes, self.bins)
        self.hist += counts
        self.hist[0] -= self.under - self._counted[0]   # ... and are taken out of them again
        self.hist[-1] -= self.over - self._counted[1]
        self._counted = (self.under, self.over)

    def _update_active(self, x: np.ndarray) -> None:
        """Channels (last axis of ``x``) > 0 somewhere in ``x``; NaN counts as not active."""
        rows = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
        seen = np.fmax.reduce(rows, axis=0) > 0 if len(rows) else np.zeros(rows.shape[1], bool)
        self.active = seen if self.active is None else (self.active | seen)

    # ------------------------------------------------------------------ result
    def result(self) -> dict[str, Any]:
        """The statistics as JSON-ready values (None where there were no finite values)."""
        n = self.count
        out: dict[str, Any] = {
            "dtype": self.dtype, "shape": [None, *self.row_shape] if self.row_shape is not None else None,
            "count": n, "nan": self.nan, "inf": self.inf,
            "mean": self.mean if n else None, "std": math.sqrt(max(self.m2, 0.0) / n) if n else None,
            "min": self.min if n else None, "max": self.max if n else None,
            "abs_mean": self.abs_sum / n if n else None, "zero_fraction": self.zeros / n if n else None,
            "dead_fraction": None, "dead_units": None,
            "hist": None if self.edges is None else {
                "edges": [float(e) for e in self.edges], "counts": [int(c) for c in self.hist],
                "under": self.under, "over": self.over},
        }
        if self.active is not None:
            dead = int(self.active.size - np.count_nonzero(self.active))
            out["dead_units"] = dead
            out["dead_fraction"] = dead / self.active.size if self.active.size else None
        return out


def _as_float(x: np.ndarray) -> np.ndarray | None:
    """A float view numpy computes fast and exactly on; None for what has no numbers (strings)."""
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4:
        return x
    if x.dtype.kind in "biu":
        return x.astype(np.float64 if x.dtype.itemsize >= 4 else np.float32)
    if x.dtype.kind == "f" or "float" in x.dtype.name:   # float16, and bfloat16 / float8 from ml_dtypes
        return x.astype(np.float32)
    return None


def count_codes(codes: np.ndarray, bins: int) -> np.ndarray:
    """``np.bincount(codes, minlength=bins)``, about 2.5 times as fast for uint8 codes.

    ``np.bincount`` costs per element, and most of it is the increments of a few
    hot counters waiting on each other: counting *pairs* of codes (the uint8
    array viewed as uint16, no copy) into a 65,536-entry table halves the
    elements and spreads the increments; the table's two margins are the counts.
    """
    flat = codes.reshape(-1)
    if flat.dtype != np.uint8 or flat.size < 4096:
        return np.bincount(flat, minlength=bins)[:bins].astype(np.int64)
    even = flat.size - flat.size % 2
    table = np.bincount(flat[:even].view(np.uint16), minlength=65536).reshape(256, 256)
    counts = (table.sum(axis=0) + table.sum(axis=1))[:bins]
    if even < flat.size:
        counts[flat[-1]] += 1
    return counts.astype(np.int64)
