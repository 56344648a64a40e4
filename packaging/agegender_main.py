"""Entry point of the PyInstaller build: the same `agegender` command as the installed console script."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
