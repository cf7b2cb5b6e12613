from __future__ import annotations

import pytest

from kspec.errors import (
    CODES,
    SpecError,
    SpecErrors,
    closest,
    format_path,
    raise_all,
    render_github,
    render_text,
    shorten,
)


def test_format_path_mixes_keys_and_indexes() -> None:
    assert format_path(("model", "layers", 3, "filters")) == "model.layers[3].filters"
    assert format_path(()) == ""


def test_render_text_is_mypy_style() -> None:
    err = SpecError(
        "Dense has no argument 'activaton'",
        ("model", "layers", 0, "activaton"),
        "unknown-argument",
        hint="did you mean 'activation'?",
        file="a.yaml",
        line=7,
        column=9,
    )
    assert render_text(err).splitlines() == [
        "a.yaml:7:9: error: Dense has no argument 'activaton' [unknown-argument]",
        "    at model.layers[0].activaton",
        "    hint: did you mean 'activation'?",
    ]


def test_render_github_escapes_newlines() -> None:
    err = SpecError("a\nb 100%", (), "cycle", file="f.yaml", line=2, column=3)
    assert render_github(err) == "::error file=f.yaml,line=2,col=3,title=kspec [cycle]::a%0Ab 100%25"


def test_render_github_escapes_properties() -> None:
    # GitHub splits properties at ',' and the key from the value at ':'; a file named so must arrive whole
    err = SpecError("x: y, z", (), "cycle", file="odd,name:x.yaml", line=2, column=3)
    assert render_github(err) == "::error file=odd%2Cname%3Ax.yaml,line=2,col=3,title=kspec [cycle]::x: y, z"


def test_render_github_names_no_file_for_a_set_override() -> None:
    err = SpecError("expected an integer", ("train", "epochs"), "wrong-type", file="<--set>", notes=["from --set e"])
    assert render_github(err) == "::error title=kspec [wrong-type]::expected an integer (from --set e)"


def test_closest_prefers_case_insensitive_match() -> None:
    assert closest("conv2d", ["Conv2D", "Conv1D"]) == ["Conv2D"]
    assert closest("Dnese", ["Dense", "Dropout"]) == ["Dense"]
    assert closest("zzz", ["Dense"]) == []


def test_shorten_cuts_and_escapes_control_characters() -> None:
    assert shorten("x" * 500).endswith("...")
    assert len(shorten("x" * 500)) == 80
    assert "\x1b" not in shorten("\x1b[31mred")


def test_raise_all_returns_warnings_and_raises_errors_sorted() -> None:
    warn = SpecError("w", code="unused-layer", severity="warning", line=1)
    assert raise_all([warn]) == [warn]
    with pytest.raises(SpecErrors) as info:
        raise_all([SpecError("b", line=9), SpecError("a", line=2), warn])
    assert [e.line for e in info.value.errors] == [1, 2, 9]


def test_every_code_is_kebab_case_and_described() -> None:
    for code, text in CODES.items():
        assert code == code.lower() and " " not in code and text


@pytest.mark.parametrize(
    ("name", "shown", "where"),
    [
        ("c\u043env1", "'c\\u043env1'", "character 2 is U+043E CYRILLIC SMALL LETTER O"),
        ("conv\u200b1", "'conv\\u200b1'", "character 5 is U+200B ZERO WIDTH SPACE"),
        ("conv\x071", "'conv\\x071'", "character 5 is U+0007, an invisible or control character"),
        ("1conv", "'1conv'", "character 1 is U+0031 DIGIT ONE, not allowed as the first character"),
        ("a/b", "'a/b'", "character 2 is U+002F SOLIDUS"),
    ],
)
def test_name_problem_shows_the_name_escaped_and_points_at_the_character(name: str, shown: str, where: str) -> None:
    from kspec.errors import name_problem

    text = name_problem(name)
    assert text.startswith(shown + " is not a usable name")
    assert where in text
    assert text.isascii() and text.isprintable()
