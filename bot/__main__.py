"""`python -m bot` is `tierbot`."""

from bot.cli import main

main()
