"""The command line: parses argv, calls the façade, prints diagnostics, maps outcomes to exit codes.

Exit codes: 0 success, 1 invalid spec or failed run, 2 usage (bad flags, missing files). One module per command
(or group of commands), each listing its `Command`s; `MODULES` is the registry, in the order `kspec --help` shows.
Command modules are light to import: Keras is imported only by the commands that build or train, inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kspec import __version__
from kspec.cli import build, completion, draw, export, importing, runs, schema, train, tune, validate
from kspec.cli.common import (
    INVALID,
    USAGE,
    Command,
    UsageError,
    json_report,
    missing_extra,
    missing_file,
    print_diagnostics,
)
from kspec.errors import SpecErrors

MODULES = (validate, build, train, tune, runs, draw, importing, export, schema, completion)


def commands() -> list[Command]:
    """Every subcommand, in help order."""
    return [c for module in MODULES for c in module.COMMANDS]


def parser(only: Command | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only`, the root and that one command (what `main` uses to run a command:
    the same parse and messages, without setting up the options of the eleven others)."""
    root = argparse.ArgumentParser(
        prog="kspec", description="Declarative Keras model specs: validate, build, train, draw."
    )
    root.add_argument("--version", action="version", version=f"kspec {__version__}")
    root.set_defaults(parser=root)  # for commands about the command line itself (completion)
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in [only] if only is not None else commands():
        p = sub.add_parser(command.name, help=command.help, description=command.run.__doc__)
        p.set_defaults(func=command.run)
        command.add_arguments(p)
    return root


def run() -> NoReturn:
    """The `kspec` program (console script and `python -m kspec`): `main`, then its exit status.

    Where the command loaded TensorFlow (and is not one task of a multi-worker cluster, whose peers wait for its orderly
    shutdown), the process ends with `os._exit` once the standard streams are flushed and the atexit handlers have
    run: the interpreter's own teardown of TensorFlow's modules and threads then takes 1 to 3 s after every `kspec
    train` and does nothing for the user. Every file kspec writes is closed (and replaced atomically) before `main`
    returns.
    """
    finish(main())


def finish(code: int) -> NoReturn:
    """End the process with `code`, as `run` does after `main` (benchmarks that call `main` end the same way)."""
    if "tensorflow" not in sys.modules or os.environ.get("TF_CONFIG"):
        raise SystemExit(code)
    import atexit

    _flush()
    atexit._run_exitfuncs()  # logging's shutdown, Keras's and TensorFlow's own handlers
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Pydantic looks for its plugins by reading the metadata of every installed package when kspec's spec models are
    # made (about 10 ms of `kspec validate`); kspec's models are internal and take no Pydantic plugin.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    words = sys.argv[1:] if argv is None else list(argv)
    named = next((c for c in commands() if words and c.name == words[0] and not c.whole_parser), None)
    args = parser(named).parse_args(words)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, not at exit: a closed pipe is then handled below
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except SpecErrors as exc:
        if _wants_json(args):
            print(json_report([(str(getattr(args, "spec", "")), False, exc.errors)]))
            return INVALID
        print_diagnostics(exc.errors, verbose=getattr(args, "verbose", False))
        n = sum(e.severity == "error" for e in exc.errors)
        print(f"Found {n} error(s)", file=sys.stderr)
        return INVALID
    except UsageError as exc:
        print(f"kspec: error: {exc}", file=sys.stderr)
        return USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if _wants_json(args) and isinstance(exc, FileNotFoundError):
            print(json_report([(str(exc.filename), False, [missing_file(str(exc.filename))])]))
        print(f"kspec: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return USAGE
    except ModuleNotFoundError as exc:  # an optional extra is not installed (the core install has no TensorFlow)
        extra = missing_extra(exc.name or "")
        if extra is None:
            print(f"kspec: error: {exc}", file=sys.stderr)
            return INVALID
        print(f"kspec: error: `kspec {args.command}` needs {exc.name}, which is not installed", file=sys.stderr)
        print(f'kspec: hint: pip install "kspec[{extra}]"', file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("kspec: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, LookupError) as exc:
        print(f"kspec: error: {exc}", file=sys.stderr)
        return INVALID
    except Exception as exc:  # a failure inside Keras or TensorFlow while training: one line, not a traceback
        if os.environ.get("KSPEC_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"kspec: error: {type(exc).__name__}: {first}", file=sys.stderr)
        print("kspec: set KSPEC_DEBUG=1 to see the full traceback", file=sys.stderr)
        return INVALID


def _wants_json(args: argparse.Namespace) -> bool:
    """The command was asked for JSON on stdout (`build --json`, `--format json`): failures come as JSON too."""
    return bool(getattr(args, "json", False)) or getattr(args, "format", None) == "json"


def _closed_pipe() -> int:
    """The reader of stdout went away (`kspec draw -o - SPEC | head -1`): stop quietly, as `cat` does.

    stdout is pointed at /dev/null so that Python's own flush at exit does not complain again; the exit code is the
    shell's for a process ended by SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13
