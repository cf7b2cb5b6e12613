"""`python -m kspec` runs the command line."""

from kspec.cli import run

run()
