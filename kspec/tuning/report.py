"""Stage 7, tune: what a study leaves in its folder, and the live table. Imports optuna (and matplotlib for plots).

The study folder holds `trials.csv` and `trials.json` (every trial's values, state, metric, epochs, time), `best.yaml`
(the spec with the best trial's values, a plain spec `kspec train` runs as it is), and `plots/` (Optuna's
optimisation history, parameter importances and parallel coordinates), next to `trials/<number>/` run folders.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

from kspec.training import runs
from kspec.tuning import space, storage

if TYPE_CHECKING:
    from optuna import Study

    from kspec.lang.search_spec import SearchSpec

PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",
    "parallel_coordinates.png": "plot_parallel_coordinate",
}


def status(trial: FrozenTrial) -> str:
    """kspec's word for how a trial ended; a failed trial without one was interrupted (its worker died)."""
    found = trial.user_attrs.get(storage.STATUS)
    if found:
        return str(found)
    return "interrupted" if trial.state == TrialState.FAIL else trial.state.name.lower()


def _number(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _value(trial: FrozenTrial) -> float | None:
    if trial.value is not None:
        return trial.value
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Table:
    """The live table: a header, then one line per finished trial with the progress and the best so far."""

    def __init__(self, search: SearchSpec, out: Any) -> None:
        self.search = search
        self.out = out
        self.shown: set[int] = set()
        metric = search.metric[:14]
        self.header = (
            f"{'done':>7} {'trial':>5}  {'state':<11} {metric:>14} {'best':>10} {'epochs':>6} {'time':>7}  values"
        )

    def start(self, name: str, done: int) -> None:
        goal = f"{self.search.goal} {self.search.metric}"
        print(f"kspec tune: study '{name}', {goal}, {done}/{self.search.trials} trials done", file=self.out)
        print(self.header, file=self.out, flush=True)

    def show(self, study: Study) -> None:
        """Print the trials that finished since the last call (this worker's and every other's)."""
        trials = study.get_trials(deepcopy=False)
        done = 0
        for t in trials:
            done += storage.counted(t)
            if t.number in self.shown or t.state in (TrialState.RUNNING, TrialState.WAITING):
                continue
            self.shown.add(t.number)
            progress = f"{done}/{self.search.trials}" if storage.counted(t) else ""
            print(f"{progress:>7} " + self.line(t, _best(study)), file=self.out, flush=True)

    def line(self, t: FrozenTrial, best: float | None) -> str:
        values = " ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        retry = t.user_attrs.get(storage.RETRY_OF)
        if retry is not None:
            values += f" (re-run of {retry})"
        epochs = t.user_attrs.get("kspec_epochs") or "-"
        seconds = t.user_attrs.get("kspec_seconds")
        took = f"{seconds:.1f}s" if isinstance(seconds, int | float) else "-"
        text = (
            f"{t.number:>5}  {status(t):<11} {_number(_value(t)):>14} {_number(best):>10} {epochs!s:>6} {took:>7}  "
            + values
        )
        errors = t.user_attrs.get("kspec_errors") or []
        if errors:
            text += "\n" + "\n".join(" " * 15 + line for line in str(errors[0]).splitlines())
            if len(errors) > 1:
                text += "\n" + " " * 15 + f"... and {len(errors) - 1} more error(s)"
        return text


def _best(study: Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:
        return None


def best_trial(study: Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:
        return None


def records(study: Study, folder: Path) -> list[dict[str, Any]]:
    out = []
    for t in study.get_trials(deepcopy=False):
        run = folder / "trials" / f"{t.number:04d}"
        out.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "status": status(t),
                "value": _value(t),
                "values": dict(t.params),
                "epochs": t.user_attrs.get("kspec_epochs"),
                "seconds": t.user_attrs.get("kspec_seconds"),
                "retry_of": t.user_attrs.get(storage.RETRY_OF),
                "worker": t.user_attrs.get(storage.WORKER),
                "run": str(run.relative_to(folder)) if run.is_dir() else None,
                "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
                "errors": list(t.user_attrs.get("kspec_errors") or []),
            }
        )
    return out


def write(study: Study, folder: Path, search: SearchSpec, source: Any, spec_name: str) -> None:
    """`trials.json`, `trials.csv` and `best.yaml` (once a trial completed), each written atomically."""
    rows = records(study, folder)
    runs.write_text(folder / "trials.json", json.dumps(rows, indent=2, allow_nan=False, default=str) + "\n")
    keys = list(search.space)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["number", "status", search.metric, *keys, "epochs", "seconds", "retry_of", "worker", "run", "error"]
    )
    for r in rows:
        params = [r["values"].get(k, "") for k in keys]
        first = r["errors"][0].splitlines()[0] if r["errors"] else ""
        row = [r["number"], r["status"], "" if r["value"] is None else r["value"], *params]
        writer.writerow(
            [*row, r["epochs"] or "", r["seconds"] or "", r["retry_of"] or "", r["worker"], r["run"] or "", first]
        )
    runs.write_text(folder / "trials.csv", buffer.getvalue())
    best = best_trial(study)
    if best is not None:
        runs.write_text(folder / "best.yaml", best_yaml(source, search, best, study.study_name, spec_name))


def best_yaml(source: Any, search: SearchSpec, best: FrozenTrial, study_name: str, spec_name: str) -> str:
    """The spec with the best trial's values, without its `search:` section: a plain spec for `kspec train`."""
    import yaml

    data = space.apply(source, best.params)
    data.pop("search", None)
    values = ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
    head = [
        f"# kspec tune: the best trial of study '{study_name}' ({spec_name}): trial {best.number}, "
        f"{search.metric} {_number(best.value)} ({search.goal})",
        f"# values: {values}",
        "# train it as it is: kspec train best.yaml (data file paths are relative to this file's folder)",
    ]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    return "\n".join(head) + "\n" + body


def plot(study: Study, folder: Path, metric: str) -> list[str]:
    """Optuna's matplotlib plots of the study into `plots/`; returns a note per plot it could not draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return ["plots: not drawn (no trial completed)"]
    notes = []
    target = runs.make_dir(folder / "plots")
    for name, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = getattr(vis, function)(study, target_name=metric)
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.set_size_inches(9, 5.5)
            figure.tight_layout()
            with runs.atomic_path(target / name, ".png") as tmp:
                figure.savefig(tmp, dpi=100)
            plt.close(figure)
        except Exception as exc:  # noqa: BLE001 - e.g. importances need two complete trials
            notes.append(f"{name}: not drawn ({' '.join(str(exc).split())[:120]})")
            plt.close("all")
    return notes
