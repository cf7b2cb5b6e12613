"""Property tests: for any mutated or generated spec, `kspec validate` succeeds or reports kspec errors — never another
exception. Derandomized so CI is repeatable; `tools/fuzz.py` runs the same properties for longer."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kspec
from kspec.errors import SpecErrors
from kspec.lang.loader import parse_text

ROOT = Path(__file__).resolve().parents[1]
SPEC_DATA = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "specs").glob("*.yaml"))]
FUZZ = os.environ.get("KSPEC_FUZZ_EXAMPLES")  # set by tools/fuzz.py for a longer, random run
PROFILE = settings(
    derandomize=FUZZ is None, max_examples=int(FUZZ or 150), deadline=None, suppress_health_check=list(HealthCheck)
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["Dense", "Conv2D", "relu", "same", "${x}", "${hidden}", "mnist", "fit", "gan", "adam", "..", "/"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(SPEC_DATA)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "insert"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.insert(path[-1], draw(values))
    return doc


def _validate_text(text: str, tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        kspec.validate(path)
    except SpecErrors as exc:
        assert exc.errors and all(e.code and e.line for e in exc.errors)


@PROFILE
@given(doc=mutated_specs())
def test_mutated_specs_give_kspec_errors_only(doc: Any, tmp_path_factory: Any) -> None:
    _validate_text(yaml.safe_dump(doc, allow_unicode=True), tmp_path_factory.mktemp("m"))


@PROFILE
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_any_text_parses_or_gives_a_located_error(text: str) -> None:
    try:
        parse_text(text, "t.yaml")
    except SpecErrors as exc:
        assert all(e.line and e.column and e.code.startswith(("yaml-", "duplicate-key")) for e in exc.errors)


@PROFILE
@given(doc=st.dictionaries(st.sampled_from(["kspec", "name", "model", "models", "data", "train", "vars", "blocks",
                                            "defaults", "plugins", "x"]), values, max_size=8))  # fmt: skip
def test_generated_top_levels_give_kspec_errors_only(doc: Any, tmp_path_factory: Any) -> None:
    _validate_text(yaml.safe_dump(doc, allow_unicode=True), tmp_path_factory.mktemp("g"))


def _path_typed_layer_arguments() -> list[tuple[str, str]]:
    """(layer or application, argument) for every argument the catalogue marks as a path (derived from Keras docs)."""
    from kspec.catalog import layer_info, layer_names, load

    unsafe = load().unsafe_layers
    return sorted(
        (name, arg)
        for name in layer_names()
        if name not in unsafe and (info := layer_info(name)) is not None
        for arg, param in info.params.items()
        if param.path is not None
    )


PATH_TYPED = _path_typed_layer_arguments()
hostile_paths = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "/etc/passwd",
            "../outside.txt",
            "~/x",
            "file:///etc/passwd",
            "https://example.org/v.txt",
            "C:\\x.txt",
            "a/../../x",
            "outside/passwd",
            "outside",
            "vocab.txt",
            "sub/vocab.txt",
            "sub/../vocab.txt",
            "\\\\host\\share",
            "sub",
            "/dev/zero",
            "./vocab.txt",
            "vocab.txt\x00.png",
            "s3://bucket/v",
            "%2e%2e/x",
        ]
    ),
    st.lists(st.sampled_from(["..", ".", "sub", "outside", "vocab.txt", "", "~"]), min_size=1, max_size=5).map(
        "/".join
    ),
)


@PROFILE
@given(target=st.sampled_from(PATH_TYPED), value=hostile_paths)
def test_path_typed_layer_arguments_never_leave_the_spec_folder(
    target: tuple[str, str], value: str, tmp_path_factory: Any
) -> None:
    """A path-typed layer argument (lookup vocabularies, application weights) is accepted only when it names a path
    inside the spec's folder; anything else is a located `bad-path` error at the argument."""
    layer, arg = target
    folder = tmp_path_factory.mktemp("p")
    (folder / "sub").mkdir()
    (folder / "vocab.txt").write_text("a\nb\n")
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    (folder / "outside").symlink_to("/etc")
    doc = {
        "kspec": 1,
        "name": "paths",
        "model": {"inputs": {"x": {"shape": [1]}}, "layers": [{"type": layer, arg: value}]},
    }
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        found = kspec.validate(spec)
    except SpecErrors as exc:
        found = exc.errors
    at_arg = [e for e in found if e.path == ("model", "layers", 0, arg) and e.severity == "error"]
    assert all(e.code in ("bad-path", "bad-value") and e.line for e in at_arg)  # bad-value: `weights: imagent`
    if not at_arg and value != "imagenet":  # accepted: it must be a relative path that resolves inside the folder
        assert not value.startswith(("/", "~", "\\")) and "://" not in value
        assert (folder / value).resolve().is_relative_to(folder.resolve())
