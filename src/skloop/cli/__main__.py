"""``python -m skloop.cli``."""

from skloop.cli import main

main()
