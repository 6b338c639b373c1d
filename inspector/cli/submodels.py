"""What `inspector extract`, `graft` and `features` share: the output-path checks made before
the (slow) model load, all-or-nothing saves, a short description of a saved model, and the
model options as the library's keyword arguments.

The library opens the model itself (one static read for the cheap checks, one Keras
load): these commands add no read of their own. TensorFlow is imported inside the
command bodies only, so ``inspector --help`` stays fast.
"""
from __future__ import annotations

from typing import Any

import click

from inspector.errors import InspectorError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MODEL_SUFFIXES = (".keras", ".h5")


def say(msg: str) -> None:
    click.echo(msg, err=True)


def check_output(output: str, model: str) -> None:
    """Refuse a bad output path before the (slow) model load, not after."""
    from inspector.atomic import check_not_input, check_writable

    check_not_input(output, model)
    if not output.endswith(MODEL_SUFFIXES):
        raise InspectorError("output must end in .keras (or .h5)", output)
    check_writable(output)


def _save(model: Any, tmp: str) -> None:
    """``model.save`` to a temp path; the .h5 the user asked for gets no "legacy format" absl warning."""
    if not tmp.endswith(".h5"):
        model.save(tmp)
        return
    from absl import logging

    level = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        model.save(tmp)
    finally:
        logging.set_verbosity(level)


def save_all(pairs: list[tuple[Any, str]]) -> None:
    """Save every ``(model, path)`` atomically, all or none: each goes to a temp file beside its
    target, and the temp files are renamed only when every save has succeeded."""
    import contextlib

    from inspector.atomic import atomic_path

    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(out)) for _, out in pairs]
        for (model, _), tmp in zip(pairs, tmps):
            _save(model, tmp)


def _shape(t: Any) -> str:
    return str(tuple(t.shape))


def describe(model: Any) -> str:
    """``inputs: ...`` and ``outputs: ...`` (names and shapes) of a saved model, for the user."""
    ins = ", ".join(f"{t.name} {_shape(t)}" for t in model.inputs)
    outs = model.output
    if isinstance(outs, dict):
        o = ", ".join(f"{k} {_shape(v)}" for k, v in outs.items())
    else:
        flat = outs if isinstance(outs, (list, tuple)) else [outs]
        o = ", ".join(f"{t._keras_history[0].name} {_shape(t)}" for t in flat)
    return f"inputs: {ins}\n  outputs: {o}"


def live_kwargs(opts: dict) -> dict:
    """The shared model options as keyword arguments of the library functions."""
    return {"unsafe": opts.get("unsafe", False), "input_specs": tuple(opts.get("inputs") or ()) or None,
            "args": tuple(opts.get("args") or ())}
