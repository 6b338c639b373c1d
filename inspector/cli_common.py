"""Options shared by every command that opens a model, and the one function that opens it.

``MODEL`` may be a `.keras`/`.h5` file (read statically by default), or, with
the live reader, a Python spec ``path/to/file.py:NAME`` / ``package.module:NAME``.
"""
from __future__ import annotations

from typing import Any, Callable

import click

from .errors import InspectorError
from .graph import ModelGraph


def model_options(fn: Callable) -> Callable:
    """MODEL argument plus --load/--unsafe/--input/--arg."""
    fn = click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
                      help="Constructor argument when MODEL names a class (repeatable).")(fn)
    fn = click.option("--input", "inputs", multiple=True, metavar="NAME=SHAPE[:DTYPE]",
                      help="Input spec for tracing a subclassed model, e.g. x=32,32,3 (repeatable).")(fn)
    fn = click.option("--unsafe", is_flag=True,
                      help="With --load: allow Keras to run code stored in the file (Lambda bytecode). "
                           "Only for files you trust.")(fn)
    fn = click.option("--load", is_flag=True,
                      help="Load the model with Keras (safe mode) instead of reading the file statically.")(fn)
    fn = click.argument("model", metavar="MODEL")(fn)
    return fn


def open_graph(model: str, load: bool = False, unsafe: bool = False,
               inputs: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> ModelGraph:
    """Open MODEL as a ModelGraph according to the shared options."""
    import inspector

    if unsafe and not load:
        raise InspectorError("--unsafe only makes sense with --load", model)
    if load or inputs or args:
        raise InspectorError("--load/--input/--arg need the live reader, which is not available yet", model)
    return inspector.read(model)
