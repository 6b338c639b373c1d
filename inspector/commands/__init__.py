"""CLI sub-commands beyond summary/export, one module each.

Every module here defines ``COMMANDS``: a list of click commands that
``cli.py`` registers. Modules must not import TensorFlow at import time
(``inspector --help`` loads them all); import it inside the command body.
"""
