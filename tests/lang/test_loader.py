from __future__ import annotations

import pytest

from kspec.errors import SpecError, SpecErrors
from kspec.lang.loader import MAX_DEPTH, Document, parse_text


def errors_of(text: str) -> list[SpecError]:
    with pytest.raises(SpecErrors) as info:
        parse_text(text, "t.yaml")
    return info.value.errors


def test_positions_point_at_keys_and_items() -> None:
    doc = parse_text("model:\n  layers:\n    - {type: Dense, units: 3}\n    - type: Flatten\n")
    assert doc.positions[("model", "layers", 0)] == (3, 7)
    assert doc.positions[("model", "layers", 0, "units")] == (3, 21)
    assert doc.positions[("model", "layers", 1, "type")] == (4, 7)


def test_yaml_12_numbers_and_booleans() -> None:
    data = parse_text("a: 1e-3\nb: no\nc: yes\nd: true\ne: .5\nf: 0x10\ng: 1_000\n").data
    assert data == {"a": 0.001, "b": "no", "c": "yes", "d": True, "e": 0.5, "f": 16, "g": 1000}


def test_duplicate_keys_are_errors_at_the_second_key() -> None:
    (err,) = errors_of("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (err.code, err.line, err.column) == ("duplicate-key", 4, 3)
    assert "line 3" in err.message


def test_python_tags_are_refused() -> None:
    (err,) = errors_of("x: !!python/object/apply:os.system ['echo hi']\n")
    assert err.code == "yaml-unsafe"
    assert err.line == 1


def test_custom_tags_are_refused() -> None:
    (err,) = errors_of("x: !include other.yaml\n")
    assert err.code == "yaml-unsafe"


def test_syntax_error_is_located() -> None:
    (err,) = errors_of("a: [1, 2\nb: 3\n")
    assert err.code == "yaml-syntax"
    assert err.line == 2


def test_alias_bomb_is_bounded() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    (err,) = errors_of("\n".join(lines) + "\n")
    assert err.code == "yaml-limits"


def test_deep_nesting_is_bounded() -> None:
    text = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    (err,) = errors_of(text)
    assert err.code == "yaml-limits"


def test_very_deep_nesting_does_not_crash() -> None:
    (err,) = errors_of("[" * 50_000)
    assert err.code in ("yaml-limits", "yaml-syntax")


def test_merge_keys_work_and_explicit_keys_win() -> None:
    data = parse_text("base: &b {units: 3, activation: relu}\nl: {<<: *b, units: 5}\n").data
    assert data["l"] == {"units": 5, "activation": "relu"}


def test_locate_falls_back_to_parent() -> None:
    doc = Document("f.yaml", {}, {(): (1, 1), ("model",): (2, 1)})
    err = doc.locate(SpecError("x", ("model", "layers", 3)))
    assert (err.file, err.line, err.column) == ("f.yaml", 2, 1)


def test_non_utf8_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kspec.lang.loader import read

    p = tmp_path / "bad.yaml"
    p.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(SpecErrors) as info:
        read(p)
    assert info.value.errors[0].code == "yaml-syntax"


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "1" * 4301, "0x" + "f" * 5000, "1_" * 3000 + "1"])
def test_integers_of_thousands_of_digits_are_located_errors(digits: str) -> None:
    (err,) = errors_of(f"a:\n  b: {digits}\n")
    assert (err.code, err.line, err.column, err.path) == ("yaml-limits", 2, 6, ("a", "b"))
    assert "digits" in err.message


def test_the_largest_int64_still_reads() -> None:
    assert parse_text(f"a: {2**63 - 1}\nb: -{2**63 - 1}\n").data == {"a": 2**63 - 1, "b": -(2**63 - 1)}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n# two\n# comments\n"])
def test_an_empty_or_comment_only_file_says_it_is_empty(text: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import kspec

    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        kspec.validate(tmp_path / "t.yaml")
    (err,) = info.value.errors
    assert "the file is empty" in err.message
