"""Errors the inspector reports to users.

Every problem with a user's input is raised as an :class:`InspectorError`; the
CLI turns it into one ``error: <file>: <what is wrong>`` line and exit code 2.
Anything else escaping is a bug in the inspector, not in the user's file.
"""
from __future__ import annotations


class InspectorError(Exception):
    """A problem with the input (file, model, option), worded for the user."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class BadModelFile(InspectorError):
    """The file is not a readable Keras model (corrupt, truncated, wrong kind)."""


class UnsafeModel(InspectorError):
    """Reading the model would require executing code from the file."""
