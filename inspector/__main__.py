"""``python -m inspector``: the same CLI as the ``inspector`` command."""
from cli import main

if __name__ == "__main__":
    main()
