"""`losses:` formulas are read into op steps by `ast` parsing alone: allowed ops, numbers, y_true, y_pred and the
loss's parameters; anything else is refused with its column."""

from __future__ import annotations

import pytest

from kspec.lang.formula import FormulaError, Step, parse

CONTRASTIVE = "(1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))"


def test_contrastive_loss_becomes_op_steps() -> None:
    parsed = parse(CONTRASTIVE, {"margin": 1.0})
    assert [(s.op, s.inputs, s.args, s.bind) for s in parsed.steps] == [
        ("subtract", ("y_true",), {"x1": 1}, ("x2",)),
        ("square", ("y_pred",), {}, ("x",)),
        ("multiply", ("subtract_1", "square_2"), {}, ("x1", "x2")),
        ("subtract", ("y_pred",), {"x1": 1.0}, ("x2",)),
        ("maximum", ("subtract_4",), {"x2": 0}, ("x1",)),
        ("square", ("maximum_5",), {}, ("x",)),
        ("multiply", ("y_true", "square_6"), {}, ("x1", "x2")),
        ("add", ("multiply_3", "multiply_7"), {}, ("x1", "x2")),
    ]
    assert parsed.result == "add_8" and parsed.used == {"margin"}
    assert parsed.steps[4].text == "maximum(margin - y_pred, 0)" and parsed.steps[4].column == 49


def test_parameters_keywords_lists_and_unary_minus() -> None:
    parsed = parse("-mean(concatenate([y_true, y_pred], axis=-1), axis=scale, keepdims=True)", {"scale": -1})
    concat, mean, neg = parsed.steps
    assert concat == Step("concatenate_1", "concatenate", ("y_true", "y_pred"), {"axis": -1},
                          "concatenate([y_true, y_pred], axis=-1)", 7)  # fmt: skip
    assert mean.args == {"axis": -1, "keepdims": True} and neg.op == "negative"
    assert parse("y_pred", {}).steps == () and parse("y_pred", {}).result == "y_pred"
    assert parse("power(x2=y_pred, x1=2)", {}).steps[0].bind == ("x2",)  # tensors by keyword keep their names


@pytest.mark.parametrize(
    ("text", "code", "column", "words"),
    [
        ("__import__('os').system('id')", "bad-value", 1, "plain name"),
        ("__import__('os')", "unknown-op", 1, "not an allowed op"),
        ("eval('1')", "unknown-op", 1, "not an allowed op"),
        ("y_pred.numpy()", "bad-value", 1, "plain name"),
        ("(lambda: y_pred)()", "bad-value", 1, "plain name"),
        ("[x for x in y_pred]", "bad-value", 1, "not part of a formula"),
        ("y_true @ y_pred", "bad-value", 1, "write matmul(a, b)"),
        ("y_pred > 0.5", "bad-value", 1, "comparisons"),
        ("square(y_pred) + ypred", "unknown-input", 18, "unknown name 'ypred'"),
        ("random_normal(y_pred)", "unknown-op", 1, "layer ops"),
        ("mean(y_pred, axis=k)", "bad-value", 19, "not a constant"),
        ("square(y_pred, y_true)", "bad-value", 1, "1 tensor argument"),
        ("concatenate(y_pred, axis=1)", "bad-value", 1, "list of tensors"),
        ("square(*y_pred)", "bad-value", 1, "`*`"),
        ("mean(y_pred, axis=-1", "bad-value", 5, "never closed"),
        ("2 * 3", "bad-value", 1, "constant"),
        ("(" * 300 + "y_pred" + ")" * 300, "bad-value", 201, "nested"),
        ("y_pred + " * 400 + "y_true", "bad-value", 1, "longer than"),
    ],
)
def test_refused_formulas_name_the_part_and_column(text: str, code: str, column: int, words: str) -> None:
    with pytest.raises(FormulaError) as info:
        parse(text, {})
    err = info.value
    assert (err.code, err.column) == (code, column) and words in err.message + (err.hint or ""), err
