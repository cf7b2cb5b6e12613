"""Stage 7, report: `kspec plot` — redraw one run's curves, or compare several runs on one figure, each labelled
with what differs between the runs' specs (`dropout1=0.05`). Runs that finished no epoch are skipped with a note.
Imports matplotlib (through `plots`) and yaml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kspec.training import plots, runs, status

#: figure formats `-o FILE` writes as one file (anything else names a folder for one PNG per metric)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def _spec_of(run: Path) -> Any:
    import yaml

    try:
        body, _ = runs.stored_spec(run)
        return yaml.safe_load(body)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _name_of(run: Path) -> str:
    """The spec's `name` a run was trained from (its folder's parent under the default runs/<name>/)."""
    doc = _spec_of(run)
    name = doc.get("name") if isinstance(doc, dict) else None
    return str(name) if name else run.parent.name


def _short(path: str) -> str:
    """`vars.dropout1` -> `dropout1`, `model.layers.3.rate` -> `layers.3.rate`, `train.epochs` -> `epochs`."""
    parts = path.split(".")
    if parts[0] in ("vars", "train") and len(parts) == 2:
        return parts[1]
    named = [i for i, p in enumerate(parts) if not p.isdigit()]
    return ".".join(parts[named[-2] :]) if len(named) > 1 and parts[-2].isdigit() else parts[-1]


def _value_at(doc: Any, path: str) -> Any:
    node = doc
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return "-"
    return node


def difference_labels(run_dirs: list[Path]) -> dict[Path, str]:
    """A label per run naming the spec values that differ between the runs (variables first: a `vars:` change also
    shows where it was substituted); runs whose specs are the same, or cannot be read, keep their folder name."""
    from kspec.errors import shorten

    docs = {run: _spec_of(run) for run in run_dirs}
    base = docs[run_dirs[0]]
    paths: list[str] = []
    for doc in docs.values():
        if doc is None or base is None:
            continue
        for path, _, _ in runs.spec_changes(base, doc):
            if path not in paths and path != "name":
                paths.append(path)
    chosen = [p for p in paths if p.startswith("vars.")] or paths
    if not chosen:
        return {run: f"{run.parent.name}/{run.name}" for run in run_dirs}
    chosen = chosen[:4]
    labels = {}
    for run, doc in docs.items():
        if doc is None:
            labels[run] = f"{run.parent.name}/{run.name}"
            continue
        text = ", ".join(f"{_short(p)}={shorten(_value_at(doc, p), 24).strip(chr(39))}" for p in chosen)
        labels[run] = text
    if len(set(labels.values())) < len(labels):  # the same values on two runs (other differences beyond four)
        labels = {run: f"{label} ({run.name})" for run, label in labels.items()}
    return labels


def plot_runs(run_dirs: list[Path], out: Path | None = None) -> list[Path]:
    """Redraw history plots from run folders; several runs go on one figure per metric to compare them.

    Args:
        run_dirs: run folders; those with no finished epoch (a failed or early-interrupted run) are skipped, with
            a note on stderr.
        out: a figure file (`.png`, `.svg`, `.pdf`: every metric as a panel of it), or a folder for one PNG per
            metric; default the run's own folder (one run) or `runs/compare/` (several).

    Returns:
        The files written.
    """
    usable = []
    for run in run_dirs:
        if not runs.is_run(run):
            raise runs.TrainingError(f"{run} is not a kspec run folder (no {runs.SPEC_FILE})")
        if not (run / "history.json").is_file():
            print(f"kspec: skipping {run}: no epoch finished ({status.state_of(run)})", file=sys.stderr)
            continue
        usable.append(run)
    if not usable:
        raise runs.TrainingError("none of the runs finished an epoch; there is nothing to plot")
    labels = difference_labels(usable) if len(usable) > 1 else {usable[0]: usable[0].name}
    histories = {labels[run]: runs.read_json(run / "history.json") for run in usable}
    names = sorted({_name_of(run) for run in usable})
    title = names[0] if len(names) == 1 else ""
    if out is not None and out.suffix.lower() in FIGURE_SUFFIXES:
        return plots.plot_history(histories, out.parent, title, file=out)
    if out is None:
        out = usable[0] if len(usable) == 1 else Path("runs") / "compare"
    runs.make_dir(out)
    return plots.plot_history(histories, out, title)
