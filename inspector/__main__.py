"""``python -m inspector``: the same CLI as the ``inspector`` command."""
from inspector.cli.app import main

if __name__ == "__main__":
    main()
