import sys

from agegender.interrupts import stop_at_once_on_signal

with stop_at_once_on_signal():  # Ctrl-C while the imports below run: one line, exit 130
    from agegender.commands.cli import main
    code = main()
sys.exit(code)
