"""``python cli.py ...``: the same command line as ``inspector`` (see inspector/cli)."""
from inspector.cli import main

if __name__ == "__main__":
    main()
