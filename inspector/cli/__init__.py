"""The ``inspector`` command line: a thin click layer over the library API.

``main`` defines the group and the summary/export commands; ``render``,
``extract`` and ``diff`` define the other commands (each a ``COMMANDS`` list);
``common`` holds the shared options and the click parameter types. None of
them imports TensorFlow at import time (``inspector --help`` loads them all):
commands import it inside their bodies.
"""
from inspector.cli.app import main

__all__ = ["main"]
