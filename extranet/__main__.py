"""`python -m extranet` runs the command line."""

from .cli import run

run()
