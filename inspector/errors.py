"""Errors the inspector reports to users.

Every problem with a user's input is raised as an :class:`InspectorError`; the
CLI turns it into one ``error: <file>: <what is wrong>`` line and exit code 2.
Anything else escaping is a bug in the inspector, not in the user's file.

Messages often quote text taken from the file (layer names, member names);
:func:`one_line` keeps them to one printable line of bounded length, so a
hostile file can neither split the error line nor send terminal escapes.

Hierarchy::

    InspectorError
    ├── BadModelFile          not a readable Keras model (corrupt, truncated, wrong kind)
    │   ├── TooLarge          a safety cap was hit (zip bomb, nesting, member/value/layer counts)
    │   ├── BadGraph          the config's layer graph is inconsistent (unknown refs, cycles, ...)
    │   └── WeightsMismatch   the weights are missing or disagree with the config
    └── UnsafeModel           the file asks for code/files/network outside Keras: refused
"""
from __future__ import annotations

#: Longest message (after quoting) we print; longer ones are cut with an ellipsis.
MAX_MESSAGE = 600


#: Characters that reorder how a terminal or editor shows the text around them (bidirectional
#: embeddings, overrides and isolates: the "Trojan Source" trick, CVE-2021-42574).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def displayable(text: str) -> bool:
    """Whether a name from a file can be shown as it is, everywhere: no control characters
    (terminal escapes), no line separators, no surrogates, no bidirectional overrides.
    Other Unicode is fine: CJK, emoji (joined with ZWJ), combining marks, RTL/LTR marks."""
    import unicodedata

    return all(ch.isprintable() or (unicodedata.category(ch) == "Cf" and ch not in _BIDI_CONTROLS)
               for ch in text)


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line: control characters escaped, length capped."""
    s = str(text)
    if not s.isprintable():
        s = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def quote(text: object, limit: int = 80) -> str:
    """A value from the file, quoted for a message: ``'os.system'``, escaped and short."""
    if not isinstance(text, str):
        s = repr(text)
        return one_line(s[: limit - 1] + "…" if len(s) > limit else s)
    s = text[: limit - 1] + "…" if len(text) > limit else text
    return repr(s) if s.isprintable() else ascii(s)


class InspectorError(Exception):
    """A problem with the input (file, model, option), worded for the user."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        msg = one_line(self.message)
        if self.path == "":   # an empty path the user typed (-o "") is still the thing at fault
            return f'"": {msg}'
        return f"{one_line(self.path, 300)}: {msg}" if self.path else msg


class BadModelFile(InspectorError):
    """The file is not a readable Keras model (corrupt, truncated, wrong kind)."""


class TooLarge(BadModelFile):
    """A safety cap was reached: the file is (or claims to be) too big, deep or numerous to read."""


class BadGraph(BadModelFile):
    """The config's layer graph is inconsistent (unknown references, cycles, bad indices, shapes)."""


class WeightsMismatch(BadModelFile):
    """The weights are missing, or their datasets disagree with the layer configs."""


class UnsafeModel(InspectorError):
    """Reading (or loading) the model would run code, read files or use the network
    outside Keras; the static reader refuses, having executed nothing."""
