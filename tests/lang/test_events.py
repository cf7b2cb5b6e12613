"""The one-pass event builder: libyaml and PyYAML's pure-Python parser give the same data and positions, and the
cases the old compose-then-construct reader crashed on are located errors."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from kspec.errors import SpecError, SpecErrors
from kspec.lang import events, loader, yaml_scalars
from kspec.lang.loader import parse_text

ROOT = Path(__file__).resolve().parents[2]
YAML_FILES = sorted([*ROOT.glob("specs/**/*.yaml"), *ROOT.glob("tests/cases/valid/*.yaml")])


def errors_of(text: str) -> list[SpecError]:
    with pytest.raises(SpecErrors) as info:
        parse_text(text, "t.yaml")
    return info.value.errors


def build_with(loader_cls: type, text: str) -> loader.Document:
    return loader._build(loader_cls, text, "t.yaml")


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")
def test_libyaml_parses_first() -> None:
    assert issubclass(loader._LOADERS[0], yaml.CSafeLoader)
    assert loader._LOADERS[-1] is loader._PyLoader


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")
@pytest.mark.parametrize("path", YAML_FILES, ids=[p.stem for p in YAML_FILES])
def test_c_and_pure_parsers_agree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast, pure = build_with(loader._LOADERS[0], text), build_with(loader._PyLoader, text)
    assert fast.data == pure.data
    assert fast.positions == pure.positions


def test_yaml_12_resolution_matches_the_pure_loader() -> None:
    text = "a: 010\nb: 0o10\nc: .inf\nd: yes\ne: ~\nf: ''\ng: 1e3\nh: +12\ni: ! 5\nj: !!str 7\nk: 2001-12-14\n"
    for cls in loader._LOADERS:
        data = build_with(cls, text).data
        assert data == build_with(loader._PyLoader, text).data
        assert data["d"] == "yes" and data["g"] == 1000.0 and data["j"] == "7" and data["e"] is None


def test_aliases_copy_values_and_positions() -> None:
    doc = parse_text("a: &a\n  x: 1\n  y: [1, {z: 3}]\nb: *a\nc: [*a]\n")
    assert doc.data["b"] == doc.data["a"] == doc.data["c"][0]
    assert doc.data["b"] is not doc.data["a"]  # a copy: later stages may change one without the other
    assert doc.positions[("b", "y", 1, "z")] == doc.positions[("a", "y", 1, "z")] == (3, 11)
    assert doc.positions[("c", 0)] == (5, 5)  # the alias itself is located where it is used


def test_merge_lists_and_explicit_keys() -> None:
    data = parse_text("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], x: 5}\n").data
    assert data["c"] == {"x": 5, "y": 1, "z": 2}


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("&a [*a]\n", "yaml-limits", (1, 5)),  # an alias inside its own anchor
        ("x: !!int abc\n", "yaml-syntax", (1, 4)),  # the old reader raised ValueError
        ("x: !!timestamp foo\n", "yaml-syntax", (1, 4)),  # the old reader raised AttributeError
        ("x: !!float abc\n", "yaml-syntax", (1, 4)),
        ("a: &x 1\nb: &x 2\n", "yaml-syntax", (2, 4)),  # duplicate anchor
        ("? [a]\n: 1\n", "yaml-syntax", (1, 3)),  # a collection as a key
    ],
)
def test_bad_documents_are_located_errors(text: str, code: str, where: tuple[int, int]) -> None:
    (err,) = errors_of(text)
    assert (err.code, (err.line, err.column)) == (code, where)


def test_scalar_and_empty_documents() -> None:
    assert parse_text("5\n").data == 5
    assert parse_text("---\n").data is None


@pytest.mark.parametrize("loader_cls", loader._LOADERS, ids=lambda c: c.__name__)
def test_shared_scalar_cache_changes_nothing(loader_cls: type) -> None:
    """Resolved scalars are shared between the documents of a process: a document read with the cache full of the
    others' scalars gives the same data and positions as one read with it empty."""
    texts = [path.read_text(encoding="utf-8") for path in YAML_FILES]
    yaml_scalars.SCALARS.clear()
    cold = [build_with(loader_cls, text) for text in texts]
    warm = [build_with(loader_cls, text) for text in reversed(texts)][::-1]
    assert [d.data for d in warm] == [d.data for d in cold]
    assert [d.positions for d in warm] == [d.positions for d in cold]
    assert len(yaml_scalars.SCALARS[loader_cls]) < sum(len(d.positions) for d in cold)  # it was shared


def test_cached_scalars_are_still_checked() -> None:
    """A scalar first read where no check applies (a key) is checked where it is a value, cached or not."""
    big = "99999999999999999999"
    cases = [
        (f"{big}: 1\nb: {big}\n", "yaml-limits"),
        (f"{big}: 1\nb: [{big}]\n", "yaml-limits"),
        ("a: 1\nb: 2\na: 3\n", "duplicate-key"),
        ("a: 1\nb: {a: 1, a: 2}\n", "duplicate-key"),
    ]
    for text, code in cases:
        for _ in range(2):  # the second time every scalar is in the cache
            (err,) = errors_of(text)
            assert err.code == code


def _nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


def test_aliases_cannot_nest_past_the_depth_limit() -> None:
    """Each anchor nests the one before: 20 of them (2.5 KB) once built a 1,200-level structure that overflowed
    Python's stack while copied; the alias that passes the limit is the located error."""
    text = "".join(f"a{i}: &a{i} {_nested(60, f'*a{i - 1}' if i else '1')}\n" for i in range(20))
    for cls in loader._LOADERS:
        with pytest.raises(SpecError) as info:
            build_with(cls, text)
        err = info.value
        assert (err.code, err.line, err.column) == ("yaml-limits", 2, 69)
        assert err.path == ("a1", *[0] * 60) and "*a0" in err.message


@pytest.mark.parametrize("depth", [events.MAX_DEPTH + 1, events.MAX_DEPTH + 2])
def test_an_alias_nests_as_deep_as_its_value_written_out(depth: int) -> None:
    """The limit counts the levels an alias repeats where it is used: written out or through aliases (used as
    values, inside other anchors), the same depth is read or refused alike."""
    inner = depth - 11  # the anchored value's levels; the alias is used inside 10 sequences under a mapping
    texts = [
        f"b: {_nested(depth - 1, '1')}\n",
        f"a: &a {_nested(inner, '1')}\nb: {_nested(10, '*a')}\n",
        f"a: &a {_nested(inner - 1, '{x: 1}')}\nb: {_nested(10, '*a')}\n",
        f"a: &a {_nested(inner - 4, '1')}\nm: &m {_nested(4, '*a')}\nb: {_nested(10, '*m')}\n",
    ]
    for text in texts:
        for cls in loader._LOADERS:
            if depth <= events.MAX_DEPTH + 1:
                assert build_with(cls, text).data["b"] is not None
            else:
                with pytest.raises(SpecError) as info:
                    build_with(cls, text)
                assert info.value.code == "yaml-limits"


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("a: !!bool maybe\n", "yaml-syntax", (1, 4)),  # was a KeyError
        ("a: !!int ''\n", "yaml-syntax", (1, 4)),  # these three were IndexErrors
        ("a: !!float ''\n", "yaml-syntax", (1, 4)),
        ("a: !!int _\n", "yaml-syntax", (1, 4)),
        ("a: !!map x\n", "yaml-syntax", (1, 4)),  # these were generator objects in the data and in the cache
        ("a: [!!seq x]\n", "yaml-syntax", (1, 5)),
        ("!!map x: 1\n", "yaml-syntax", (1, 1)),
        ("a: !!str {x: 1}\n", "yaml-syntax", (1, 4)),  # these two were read as if untagged (SafeLoader refuses them)
        ("- !!map [1]\n", "yaml-syntax", (1, 3)),
        ("a: {<<: {x: 1}, <<: {x: 2}}\n", "duplicate-key", (1, 17)),  # was the first merge (SafeLoader: the last)
        ("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n  <<: *a\n", "duplicate-key", (5, 3)),
    ],
)
def test_bad_tags_and_merge_keys_are_located_errors(text: str, code: str, where: tuple[int, int]) -> None:
    for cls in loader._LOADERS:
        for _ in range(2):  # the second time the scalars are in the shared cache
            with pytest.raises(SpecError) as info:
                build_with(cls, text)
            assert (info.value.code, (info.value.line, info.value.column)) == (code, where)


def test_the_shared_cache_holds_immutable_values_only() -> None:
    text = "a: !!binary aGk=\nb: !!timestamp 2001-12-14\nc: !!null ''\nd: !!str 1\ne: !!bool true\nf: !!float 1\n"
    for cls in loader._LOADERS:
        data = build_with(cls, text).data
        assert data["a"] == b"hi" and data["c"] is None and data["d"] == "1" and data["f"] == 1.0
        for _, value in yaml_scalars.SCALARS[cls].values():
            assert isinstance(value, str | int | float | bytes | datetime.date) or value is None
