"""`python -m extranet` runs the command line."""

from .cli import main

main()
