"""`python -m kspec` runs the command line."""

from kspec.cli import main

raise SystemExit(main())
