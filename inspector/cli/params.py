"""click parameter types for the option values that have a grammar: ``NAME=SHAPE[:DTYPE]``,
``K/N`` and ``NAME:UNITS[:ACTIVATION]``.

Each type calls the library's own parser (so the library keeps accepting the same
strings, with the same rules) and turns its refusal into click's ``BadParameter``: the
command line then says ``--option: what (see inspector CMD --help)``
(:func:`inspector.cli.common.usage_error_line`), before any model is opened. The parsers
are imported inside ``convert``: ``inspector --help`` imports none of them.
"""
from __future__ import annotations

from typing import Any

import click

from inspector.errors import InspectorError


def _clause(message: str, *prefixes: str) -> str:
    """The parser's message without its own option name or "bad ..." lead-in (click names the option)."""
    for p in prefixes:
        if message.startswith(p):
            return message[len(p):]
    return message


class _LibraryType(click.ParamType):
    """A value parsed by a library function; its InspectorError becomes a BadParameter."""

    def parse(self, value: str) -> Any:   # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def reword(self, message: str, value: str) -> str:
        return message

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):   # already converted (a default, or a caller's object)
            return value
        try:
            return self.parse(value)
        except InspectorError as e:
            self.fail(self.reword(e.message, value), param, ctx)


class InputSpecType(_LibraryType):
    """``NAME=SHAPE[:DTYPE]`` (no batch dimension) -> :class:`inspector.readers.live.specs.InputSpec`."""

    name = "NAME=SHAPE[:DTYPE]"

    def parse(self, value: str) -> Any:
        from inspector.readers.live.specs import parse_inputs

        return parse_inputs([value])[0]

    def reword(self, message: str, value: str) -> str:
        return f"{value!r}: " + _clause(message, f"--input {value!r}: ")


class ShardType(_LibraryType):
    """``K/N`` -> ``(K, N)`` with 0 <= K < N (:func:`inspector.extract.features.parse_shard`)."""

    name = "K/N"

    def parse(self, value: str) -> Any:
        from inspector.extract.features import parse_shard

        return parse_shard(value)

    def reword(self, message: str, value: str) -> str:
        return _clause(message, "bad shard ")


class HeadType(_LibraryType):
    """``NAME:UNITS[:ACTIVATION]`` -> :class:`inspector.extract.graft.HeadSpec`."""

    name = "NAME:UNITS[:ACTIVATION]"

    def parse(self, value: str) -> Any:
        from inspector.extract.graft import HeadSpec

        return HeadSpec.parse(value)

    def reword(self, message: str, value: str) -> str:
        clause = _clause(message, "bad head ")
        return f"{value!r}: head {clause}" if clause.startswith("name ") else clause


INPUT_SPEC = InputSpecType()
SHARD = ShardType()
HEAD = HeadType()

