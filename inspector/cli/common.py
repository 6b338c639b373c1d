"""Options shared by every command that opens a model, and the functions that open it.

``MODEL`` is a `.keras`/`.h5` file (read statically by default; ``--load`` builds
it with Keras in safe mode, ``--unsafe`` additionally lets Keras run code stored
in the file) or a Python spec ``path/to/file.py:NAME`` / ``package.module:NAME``
naming a model instance, a model class (constructed with ``--arg``) or a
factory. A spec is code the user asked us to run; a file never is, unless
``--load --unsafe``. Models without a layer graph are traced (``--input``
gives their input shapes when Keras did not record them).
"""
from __future__ import annotations

from typing import Any, Callable

import click

from inspector.cli.params import INPUT_SPEC
from inspector.errors import InspectorError
from inspector.graph import ModelGraph

BROKEN_MODEL_HELP = """

    A subclassed model whose call fails (e.g. a layer fed the wrong shape) is
    shown up to the failing call, which is marked failed; the explanation
    (layer, expected vs received shape, source line) goes to stderr as one
    error line and the exit code is 2.
"""


#: --allow-code: shared by every command that opens a model file statically.
ALLOW_CODE = click.option("--allow-code", is_flag=True,
                          help="Show a file whose Lambda layers hold Python bytecode (flagged; the code is "
                               "never decoded or run) instead of refusing it.")


def model_options(fn: Callable) -> Callable:
    """MODEL argument plus --load/--unsafe/--input/--arg (and a help paragraph about broken models)."""
    if fn.__doc__ and "subclassed model whose call fails" not in fn.__doc__:
        fn.__doc__ = fn.__doc__.rstrip() + "\n" + BROKEN_MODEL_HELP
    fn = click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
                      help="Argument for the class or factory a Python spec MODEL names; VALUE is a "
                           "Python literal or a string (repeatable).")(fn)
    fn = click.option("--input", "inputs", multiple=True, type=INPUT_SPEC, metavar="NAME=SHAPE[:DTYPE]",
                      help="Input of a subclassed model to trace, without the batch dimension, e.g. "
                           "x=32,32,3 or tokens=128:int32; one per dict key (repeatable).")(fn)
    fn = ALLOW_CODE(fn)
    fn = click.option("--unsafe", is_flag=True,
                      help="With --load: allow Keras to run code stored in the file (Lambda bytecode). "
                           "Only for files you trust.")(fn)
    fn = click.option("--load", is_flag=True,
                      help="Load the file with Keras (safe mode: no code from the file runs) instead of "
                           "reading it statically; shows custom model classes' graphs.")(fn)
    fn = click.argument("model", metavar="MODEL")(fn)
    return fn


def open_graph(model: str, load: bool = False, unsafe: bool = False,
               inputs: tuple[str, ...] = (), args: tuple[str, ...] = (), allow_code: bool = False) -> ModelGraph:
    """Open MODEL as a ModelGraph according to the shared options.

    When tracing a subclassed model fails, the partial graph is returned so the
    command can still print/draw it, and the error is raised when the command's
    click context closes (one ``error:`` line, exit 2); outside click it is
    raised at once as :class:`inspector.readers.live.trace.TraceFailed`.
    """
    import inspector
    from inspector.readers.live.specs import is_python_spec, parse_args, resolve_spec

    if unsafe and not load:
        raise InspectorError("--unsafe only makes sense with --load (it lets Keras run code from the file)",
                             model)
    if is_python_spec(model):
        if load:
            raise InspectorError("--load is for model files; a Python spec is already a live model", model)
        return _live_graph(resolve_spec(model, parse_args(args)), model, inputs)
    if args:
        raise InspectorError("--arg only applies to a Python spec (file.py:NAME or module:NAME) naming a "
                             "class or factory", model)
    if load:   # Keras 3, or tf-keras for a legacy file only it loads; the file's version and format kept
        from inspector.readers.live.read import read_loaded

        return read_loaded(model, lambda obj: _live_graph(obj, model, inputs), unsafe=unsafe,
                           allow_code=allow_code, inputs=inputs)
    if inputs:
        raise InspectorError("--input only applies to models that are traced: a Python spec, or a file "
                             "opened with --load", model)
    graph = inspector.read(model, allow_code=allow_code)
    # A command's process ends after one graph: let later collections (while rendering a
    # 10,000-layer model, say) skip the millions of objects read so far.
    import gc

    gc.freeze()
    return graph


def _live_graph(obj: Any, source: str, inputs: tuple[str, ...]) -> ModelGraph:
    try:
        return _live_graph_inner(obj, source, inputs)
    except InspectorError as e:
        e.path = e.path or source
        raise


def _live_graph_inner(obj: Any, source: str, inputs: tuple[str, ...]) -> ModelGraph:
    from inspector.readers.live.nodes import has_graph
    from inspector.readers.live.specs import parse_inputs
    from inspector.readers.live.trace import TraceFailed, live_graph, trace

    specs = parse_inputs([str(s) for s in inputs])   # InputSpecs from the option type, or strings
    if has_graph(obj):
        if specs:   # concrete shapes for the model's own inputs (a sequence length, say)
            from inspector.readers.live.reshape import with_input_shapes

            cls, obj = type(obj).__name__, with_input_shapes(obj, specs)
        import keras

        g, _ = live_graph(obj)
        g.meta.update(format="live", keras_runtime=keras.__version__)
        if specs:
            g.class_name = cls
            g.meta.setdefault("notes", []).append(
                "input shapes set by --input: " + ", ".join(f"{s.name} (None, {', '.join(map(str, s.shape))})"
                                                          for s in specs))
    else:
        result = trace(obj, specs or None)
        g = result.graph
        if result.error is not None:
            _defer(TraceFailed(result, source))
    g.meta["source"] = source
    return g


def _defer(error: InspectorError) -> None:
    """Raise ``error`` after the running command has printed the partial graph (exit 2), or now."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        raise error

    def fail() -> None:
        raise error

    ctx.call_on_close(fail)


# --------------------------------------------------------------------------- usage errors
def usage_error_line(e: click.ClickException, command_path: str = "inspector") -> str:
    """Click's 4-line "Usage/Try/Error" block as our one line: ``<option>: <what> (see inspector CMD --help)``.

    Every other failure is one ``error:`` line; a mistyped option should not be the exception.
    """
    ctx = getattr(e, "ctx", None)
    where = f" (see {ctx.command_path if ctx is not None else command_path} --help)"
    if isinstance(e, click.MissingParameter):
        name = _param_name(e.param, e.param_hint)
        kind = e.param_type or (e.param.param_type_name if e.param is not None else "parameter")
        return f"{name}: missing {kind}{where}" if name else f"missing {kind}{where}"
    if isinstance(e, click.BadParameter):
        name = _param_name(e.param, e.param_hint)
        return f"{name}: {_sentence(e.message)}{where}" if name else f"{_sentence(e.message)}{where}"
    if isinstance(e, click.NoSuchOption):
        hint = f"; did you mean {' or '.join(e.possibilities)}?" if e.possibilities else ""
        return f"{e.option_name}: no such option{hint}{where}"
    if isinstance(e, click.BadOptionUsage):
        msg = _sentence(e.message)
        if "requires an argument" in msg:
            msg = "needs a value"
        return f"{e.option_name}: {msg}{where}"
    return f"{_sentence(e.format_message())}{where}"


def _param_name(param: click.Parameter | None, hint: Any) -> str:
    """The name a user typed for ``param``: its long option (``--batch-size``) or its METAVAR."""
    if isinstance(hint, str):
        return hint.strip("'\"")
    if hint:
        return max((str(h) for h in hint), key=len)
    if param is None:
        return ""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def _sentence(msg: str) -> str:
    """Click's sentence as a clause: first letter lower-cased (unless an acronym), no final period."""
    s = " ".join(str(msg).split()).rstrip(".")
    if len(s) > 1 and s[0].isupper() and not s[1].isupper():
        s = s[0].lower() + s[1:]
    return s
