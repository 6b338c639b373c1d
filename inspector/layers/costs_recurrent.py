"""MAC rules of recurrent layers: SimpleRNN, GRU, LSTM (and ``RNN`` around their cells or a
``StackedRNNCells``), ConvLSTM1D/2D/3D.

Per step, a cell multiplies the input by its kernel and the previous state by its recurrent
kernel: ``gates * (features * units + units * units)`` with 1/3/4 gates for
SimpleRNN/GRU/LSTM (GRU's ``reset_after`` moves the reset gate, not the product count);
the layer runs that once per time step. Gate activations and the element-wise state update
are not multiply-accumulates. An unknown number of steps makes the count unknown.
"""
from __future__ import annotations

import math

from inspector.layers.common import ShapeError, as_int, as_tuple, data_format, unwrap_layer
from inspector.layers.costs_common import at, spatial

#: gates per recurrent class (layers and their cells, Keras and tf-keras spellings)
GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4, "CuDNNGRU": 3, "CuDNNLSTM": 4,
         "SimpleRNNCell": 1, "GRUCell": 3, "LSTMCell": 4, "GRUCellV2": 3, "LSTMCellV2": 4}


def _cell_step(cls: str, cfg: dict, features: int) -> tuple[int, int]:
    """(MACs of one step, width of the cell's output) for a cell seeing ``features``."""
    cls = cls.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    if cls == "StackedRNNCells":
        total = 0
        for entry in cfg.get("cells") or []:
            macs, features = _cell_step(*unwrap_layer(entry), features)
            total += macs
        if not total:
            raise ShapeError("empty cell stack")
        return total, features
    gates = GATES.get(cls)
    if gates is None:
        raise ShapeError(f"unknown recurrent cell {cls}")
    units = as_int(cfg.get("units"), 1)
    return gates * (features * units + units * units), units


def rnn(name, config, ins, outs, weights) -> int | None:
    """SimpleRNN/GRU/LSTM/RNN: steps * per-step MACs of the cell (or stack of cells)."""
    x = at(ins, 0)
    if x is None or len(x) != 3:
        return None
    if name == "RNN":
        cell = config.get("cell")
        if isinstance(cell, list):  # tf-keras: RNN([cell, cell]) saves the list
            cell = {"class_name": "StackedRNNCells", "config": {"cells": cell}}
        cls, cfg = unwrap_layer(cell)
    else:
        cls, cfg = name, config
    steps = x[0] if config.get("time_major", False) else x[1]
    if steps is None or x[2] is None:
        return None
    return steps * _cell_step(cls, cfg, x[2])[0]


def conv_lstm(name, config, ins, outs, weights) -> int | None:
    """ConvLSTM1D/2D/3D: per step, the input convolution (the layer's strides, padding,
    dilation) and the recurrent convolution of the state ("same" padding, stride 1), both
    with 4 * filters outputs over the output's spatial positions."""
    x, y = at(ins, 0), at(outs, 0)
    if x is None or y is None:
        return None
    fmt = data_format(config)
    steps = x[1]
    per_step_in = (x[0], *x[2:])
    per_step_out = (y[0], *y[2:]) if config.get("return_sequences") else y
    out_spatial, filters = spatial(per_step_out, fmt)
    in_ch = spatial(per_step_in, fmt)[1]
    kernel = math.prod(as_tuple(config.get("kernel_size"), len(out_spatial)))
    if steps is None:
        return None
    positions = math.prod(out_spatial) * kernel
    return steps * positions * 4 * filters * (in_ch + filters)


def recurrent_rules() -> dict:
    """Class name -> rule."""
    return {**{n: rnn for n in ("SimpleRNN", "GRU", "LSTM", "CuDNNGRU", "CuDNNLSTM", "RNN")},
            **{f"ConvLSTM{n}D": conv_lstm for n in (1, 2, 3)}}
