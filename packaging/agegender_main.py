"""Entry point of the PyInstaller build: the same `agegender` command as the installed console script."""
import sys

from agegender.interrupts import stop_at_once_on_signal

if __name__ == "__main__":
    with stop_at_once_on_signal():  # Ctrl-C while the imports below run: one line, exit 130
        from agegender.commands.cli import main
        code = main()
    sys.exit(code)
