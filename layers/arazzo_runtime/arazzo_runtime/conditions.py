"""Criterion conditions parsed into a small boolean syntax tree.

Two condition languages share this parser:
- `simple` conditions, whose operands are runtime expressions (`$statusCode == 200`), read by
  the runtime-expression grammar (`expressions.scan_expression`);
- the comparison form of `jsonpath` conditions (`$.status == 'running' || ...`), whose
  operands are JSONPath queries relative to the criterion's context.
The spec gives no precedence. Comparisons bind tightest, then `!` (so `!$a == 1` means
`!($a == 1)`: negating a comparison is the only useful reading), then `&&`, then `||`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from arazzo_runtime.expressions import ExpressionSyntaxError, scan_expression


class ConditionSyntaxError(ValueError):
    """A condition that cannot be parsed; the message quotes it and says where it goes wrong."""


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool or None


@dataclass(frozen=True)
class Operand:
    text: str  # a runtime expression or a JSONPath query, as written


@dataclass(frozen=True)
class Comparison:
    left: Literal | Operand
    op: str  # == != < <= > >=
    right: Literal | Operand


@dataclass(frozen=True)
class Not:
    term: Condition


@dataclass(frozen=True)
class And:
    terms: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Condition, ...]


Condition = Comparison | Not | And | Or | Operand | Literal

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\))
    | (?P<word>true|false|null)(?![A-Za-z0-9_])
    | (?P<expression>\$[A-Za-z])
    | (?P<operand>[$@](?:\[(?:'(?:[^']|'')*'|[^\]])*\]|[^\s()=!<>&|\[])*)
    )""",
    re.VERBOSE,
)


def parse_condition(text: str, version: str = "1.0") -> Condition:
    """The condition `text` is; its runtime expressions are read by the grammar of the Arazzo
    `version` of the document it is written in."""
    tokens = _tokenize(text, version)
    parser = _Parser(tokens, text)
    tree = parser.parse_or()
    if parser.position != len(tokens):
        raise ConditionSyntaxError(f"condition {text!r}: unexpected {tokens[parser.position][1]!r}")
    return tree


def _tokenize(text: str, version: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConditionSyntaxError(f"condition {text!r}: cannot read {text[position:].strip()[:20]!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "expression":
            # A runtime expression ends where the grammar says, not at a pattern of ours.
            begin = match.start(kind)
            try:
                _, end = scan_expression(text, begin, version)
            except ExpressionSyntaxError as error:
                raise ConditionSyntaxError(f"condition {text!r}: {error}") from None
            tokens.append(("operand", text[begin:end]))
            position = end
            continue
        if kind == "string":
            tokens.append(("literal", raw[1:-1].replace("''", "'")))
        elif kind == "number":
            tokens.append(("literal", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "word":
            tokens.append(("literal", {"true": True, "false": False, "null": None}[raw]))
        else:
            tokens.append((kind, raw))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], text: str) -> None:
        self.tokens, self.text, self.position = tokens, text, 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, op: str) -> bool:
        token = self._peek()
        if token and token[0] == "op" and token[1] == op:
            self.position += 1
            return True
        return False

    def parse_or(self) -> Condition:
        terms = [self.parse_and()]
        while self._take("||"):
            terms.append(self.parse_and())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def parse_and(self) -> Condition:
        terms = [self.parse_unary()]
        while self._take("&&"):
            terms.append(self.parse_unary())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def parse_unary(self) -> Condition:
        if self._take("!"):
            return Not(self.parse_unary())
        return self.parse_comparison()

    def parse_comparison(self) -> Condition:
        left = self.parse_primary()
        token = self._peek()
        if token and token[0] == "op" and token[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.position += 1
            right = self.parse_primary()
            if not isinstance(left, (Literal, Operand)) or not isinstance(right, (Literal, Operand)):
                raise ConditionSyntaxError(f"condition {self.text!r}: comparisons take values, not sub-conditions")
            return Comparison(left, token[1], right)
        return left

    def parse_primary(self) -> Condition:
        token = self._peek()
        if token is None:
            raise ConditionSyntaxError(f"condition {self.text!r}: ends too early")
        if token == ("op", "("):
            self.position += 1
            inner = self.parse_or()
            if not self._take(")"):
                raise ConditionSyntaxError(f"condition {self.text!r}: missing ')'")
            return inner
        self.position += 1
        if token[0] == "literal":
            return Literal(token[1])
        if token[0] == "operand":
            return Operand(token[1])
        raise ConditionSyntaxError(f"condition {self.text!r}: unexpected {token[1]!r}")
