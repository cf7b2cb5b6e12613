"""Stage 2, parse: a declarative loss's `formula:` text -> a list of op steps over named tensors.

`(1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))` reads like the Keras code it
replaces. The text is parsed by Python's `ast` module into a syntax tree and never compiled or evaluated: only
number literals, the names `y_true`, `y_pred` and the loss's parameters, the operators `+ - * / **` (and unary
`-`), and calls of functions from the `op:` allow-list are accepted; anything else is an error naming the part
of the formula and its column. Each operator and call becomes one `Step` (the `op:` machinery: the same
allow-list, argument checks and shape rules). Imports kspec's catalogue (plain JSON) only; never keras.
"""

from __future__ import annotations

import ast
from typing import Any, NamedTuple

from kspec import catalog
from kspec.catalog.kspec_ops import KSPEC_OPS
from kspec.errors import did_you_mean

#: The tensors a loss receives, as Keras passes them to a loss function.
TENSORS = ("y_true", "y_pred")
#: Longest formula accepted (the YAML loader bounds scalars too; this keeps the parse cheap).
MAX_LENGTH = 2000
_BINARY = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide", ast.Pow: "power"}
_SYMBOLS = {ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
            ast.LShift: "<<", ast.RShift: ">>"}  # fmt: skip
_SPELLED = {"@": "matmul", "//": "floor_divide", "%": "mod"}


class FormulaError(ValueError):
    """A formula kspec cannot read: `message` names the part (`text`) and its 1-based `column`."""

    def __init__(self, message: str, column: int = 1, text: str = "", hint: str | None = None,
                 code: str = "bad-value") -> None:  # fmt: skip
        self.message, self.column, self.text, self.hint, self.code = message, column, text, hint, code
        super().__init__(f"column {column}: {message}")


class Step(NamedTuple):
    """One op of a formula: `op` applied to the tensors `inputs` (names: `y_true`, `y_pred`, earlier steps) with
    constant arguments `args` (keyword arguments, and tensor parameters given as numbers, e.g. `x1: 1`)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    args: dict[str, Any] = {}  # the reader passes a fresh dict for every step
    text: str = ""
    column: int = 1
    #: the parameter each of `inputs` binds to (`("x2",)` for `1 - y_true`); empty for a variadic op's list
    bind: tuple[str, ...] = ()


class Formula(NamedTuple):
    """A parsed formula: its steps in evaluation order and the name of the tensor it computes."""

    steps: tuple[Step, ...]
    result: str
    used: frozenset[str]  # the parameters the formula refers to


def parse(text: str, params: dict[str, Any]) -> Formula:
    """Parse `text` with the loss's parameters (name -> number) substituted as constants.

    Raises:
        FormulaError: the first problem found, with its column.
    """
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a formula: {exc.msg}", exc.offset or 1,
                           hint="write e.g. `mean(square(y_true - y_pred), axis=-1)`") from None  # fmt: skip
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("the formula is nested too deeply") from None
    reader = _Reader(text.strip(), params)
    result = reader.tensor(tree.body)
    live = set(TENSORS)
    for step in reader.steps:
        if live.intersection(step.inputs):
            live.add(step.name)
    if not isinstance(result, str) or result not in live:
        raise FormulaError("the formula is a constant; a loss must use y_true or y_pred", 1, text.strip())
    return Formula(tuple(reader.steps), result, frozenset(reader.used))


class _Reader:
    def __init__(self, text: str, params: dict[str, Any]) -> None:
        self.source, self.params = text, params
        self.steps: list[Step] = []
        self.used: set[str] = set()

    def _text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def _fail(self, node: ast.AST, message: str, hint: str | None = None, code: str = "bad-value") -> FormulaError:
        return FormulaError(message, getattr(node, "col_offset", 0) + 1, self._text(node), hint, code)

    def tensor(self, node: ast.AST) -> str | int | float:
        """The name of the tensor `node` computes, or the number it is (a literal or a parameter)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in TENSORS:
                return node.id
            if node.id in self.params:
                self.used.add(node.id)
                value = self.params[node.id]
                return value if isinstance(value, int | float) else float(value)
            known = [*TENSORS, *self.params]
            raise self._fail(node, f"unknown name '{node.id}'",
                             did_you_mean(node.id, known) or f"a formula can use {', '.join(known)}",
                             "unknown-input")  # fmt: skip
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.tensor(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            if not isinstance(inner, str):
                return -inner
            return self._step(node, "negative", [("x", inner)], {})
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
                alt = _SPELLED.get(symbol)
                raise self._fail(
                    node,
                    f"the operator `{symbol}` is not supported",
                    f"write {alt}(a, b)" if alt else "use + - * / ** or an op such as maximum(a, b)",
                )
            return self._step(node, op, [("x1", self.tensor(node.left)), ("x2", self.tensor(node.right))], {})
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Compare):
            raise self._fail(node, "comparisons are not supported", "write greater(a, b), less(a, b), equal(a, b)")
        raise self._fail(
            node,
            f"`{self._text(node)}` is not part of a formula",
            "a formula holds numbers, y_true, y_pred, the loss's params, + - * / ** and op calls",
        )

    def _call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name):
            raise self._fail(node, "only ops are called, by their plain name (e.g. `square(y_pred)`)")
        name = node.func.id
        info = catalog.op_info(name) if name not in KSPEC_OPS else None
        if info is None:
            ops = [n for n in catalog.op_names() if n not in KSPEC_OPS]
            why = "is one of kspec's layer ops, not usable in a loss" if name in KSPEC_OPS else "is not an allowed op"
            raise self._fail(
                node.func,
                f"'{name}' {why}",
                did_you_mean(name, ops)
                or "a formula calls keras.ops functions of the `op:` allow-list, e.g. square, mean, maximum",
                "unknown-op",
            )
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise self._fail(node, "`*` and `**` arguments are not supported")
        operands: list[tuple[str, str | int | float]] = []
        args: dict[str, Any] = {}
        positional = list(node.args)
        if info.variadic:
            first = positional.pop(0) if positional else None
            if not isinstance(first, ast.List | ast.Tuple):
                raise self._fail(node, f"{name} takes a list of tensors first, e.g. {name}([a, b], axis=-1)")
            operands = [(info.tensors[0] if info.tensors else "xs", self.tensor(e)) for e in first.elts]
        elif len(positional) > len(info.tensors):
            raise self._fail(
                node,
                f"{name} takes {len(info.tensors)} tensor argument(s) ({', '.join(info.tensors)}), "
                f"received {len(positional)}",
                "give other arguments by keyword, e.g. axis=-1",
            )
        else:
            operands = [(param, self.tensor(arg)) for param, arg in zip(info.tensors, positional, strict=False)]
        for keyword in node.keywords:
            assert keyword.arg is not None
            if keyword.arg in info.tensors and not info.variadic:
                operands.append((keyword.arg, self.tensor(keyword.value)))
            else:
                args[keyword.arg] = self._constant(keyword.value)
        if info.variadic and any(not isinstance(v, str) for _, v in operands):
            raise self._fail(node, f"the list given to {name} holds tensors only")
        return self._step(node, name, operands, args, variadic=info.variadic)

    def _constant(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, float, bool, str)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._constant(node.operand)
            if type(value) in (int, float):
                return -value
        if isinstance(node, ast.List | ast.Tuple):
            return [self._constant(e) for e in node.elts]
        if isinstance(node, ast.Name) and node.id in self.params:
            self.used.add(node.id)
            return self.params[node.id]
        raise self._fail(node, f"`{self._text(node)}` is not a constant", "keyword arguments take numbers, "
                         "True/False, strings or lists of them")  # fmt: skip

    def _step(self, node: ast.AST, op: str, operands: list[tuple[str, Any]], args: dict[str, Any],
              variadic: bool = False) -> str:  # fmt: skip
        inputs = tuple(v for _, v in operands if isinstance(v, str))
        bind: tuple[str, ...] = ()
        if not variadic:
            args = {**{p: v for p, v in operands if not isinstance(v, str)}, **args}
            bind = tuple(p for p, v in operands if isinstance(v, str))
        name = f"{op}_{len(self.steps) + 1}"
        text, column = self._text(node), getattr(node, "col_offset", 0) + 1
        self.steps.append(Step(name, op, inputs, args, text, column, bind))
        return name
