"""`kspec completion SHELL`: a shell completion script, generated from the argument parser by shtab."""

from __future__ import annotations

import argparse
import sys

from kspec.cli.common import OK, Command

SHELLS = ("bash", "zsh", "fish")


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("shell", choices=SHELLS, help="the shell to complete kspec's commands, options and files in")


def run(args: argparse.Namespace) -> int:
    """Print a completion script for bash, zsh or fish (commands, options, choices, and files for spec paths).

    bash: `kspec completion bash > ~/.local/share/bash-completion/completions/kspec` (or `eval "$(kspec completion
    bash)"` in ~/.bashrc); zsh: `kspec completion zsh > ~/.zfunc/_kspec` with ~/.zfunc on `fpath`; fish:
    `kspec completion fish > ~/.config/fish/completions/kspec.fish`.
    """
    import shtab

    root: argparse.ArgumentParser = args.parser
    _complete_paths(root, shtab.FILE)
    sys.stdout.write(shtab.complete(root, shell=args.shell))
    return OK


def _complete_paths(p: argparse.ArgumentParser, files: object) -> None:
    """Positional arguments without fixed choices are paths (specs, run folders): complete them as files."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _complete_paths(sub, files)
        elif not action.option_strings and action.choices is None:
            action.complete = files  # type: ignore[attr-defined]


COMMANDS = [
    Command("completion", "print a shell completion script (bash, zsh or fish)", add_arguments, run, whole_parser=True)
]
