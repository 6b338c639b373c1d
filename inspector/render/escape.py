"""Escaping user text (layer and model names come from files that may be hostile) for
every markup a diagram is written in. One function per target, used everywhere:

- ``xml_text``: SVG/HTML/XML text and attribute values (``& < > "``), and the text
  inside a Graphviz HTML-like label;
- ``dot_string``: a DOT double-quoted string (any attribute value that is not a label);
- :class:`HtmlLabel`: a value *built* as a Graphviz HTML-like label (``<...>``). Only
  values of this type are written unquoted into DOT; a name that merely starts with
  ``<`` is an ordinary string and is quoted like any other.
"""
from __future__ import annotations

from typing import Any


class HtmlLabel(str):
    """A Graphviz HTML-like label built by the renderer, its user text already escaped
    with :func:`xml_text`. Written into DOT as ``<...>`` (without quotes)."""

    __slots__ = ()


def xml_text(text: Any) -> str:
    """Text for XML/SVG/HTML content and double-quoted attributes."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def label_text(text: Any) -> str:
    """Text inside a Graphviz HTML-like label: XML-escaped, and ``]`` as a character
    reference (Graphviz's label scanner trips over ``]`` runs next to markup)."""
    return xml_text(text).replace("]", "&#93;")


def dot_string(text: Any) -> str:
    """A DOT double-quoted *escString* (labels, tooltips): Graphviz reads ``\\\\`` as one
    backslash, so ``\\N`` or ``\\G`` in a name stay literal; newlines as ``\\n``; and ``&``
    as ``&amp;``, because Graphviz decodes entities in labels and copies an ``&`` that
    starts one into SVG unescaped (a name ``&lt;`` would be shown as ``<``)."""
    return '"' + _amp(str(text)).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _amp(text: str) -> str:
    return text.replace("&", "&amp;")


def dot_id(name: str) -> str:
    """A DOT node ID for ``name``, the name exactly when DOT can say it: IDs are not
    escStrings, so only ``"`` is escaped. A backslash cannot always be kept exact in a
    quoted ID (``\\"`` and a final ``\\`` end the string early), so a name holding one gets
    the escString form: it parses, and the SVG ``<title>`` shows it with doubled backslashes
    (labels and tooltips are exact either way)."""
    return dot_string(name) if "\\" in name else '"' + _amp(name).replace('"', '\\"') + '"'


def html_label(inner: str) -> HtmlLabel:
    """``inner`` (markup whose user text went through :func:`xml_text`) as an HTML-like label."""
    return HtmlLabel("<" + inner + ">")
