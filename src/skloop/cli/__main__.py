"""``python -m skloop.cli``."""

from skloop.cli import console_main

console_main()
