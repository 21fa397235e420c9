"""Criteria that Step Functions cannot evaluate, evaluated on a step's response.

The state machine sends them in the step payload as `evaluate` (criterion id ->
`{type, condition, context[, version][, arazzo]}`) and sends the values of the non-response runtime
expressions they use as `values` (id -> `{expression, value}`). The result maps each
criterion id to true or false; the state machine branches on it.

Criteria are compiled first (`compile_criteria`) and evaluated afterwards
(`CompiledCriteria.evaluate`), so that a function can refuse a bad criterion before it
sends its request. Every problem is a `CriterionError` naming the criterion; the first
problem met is raised (in the order of `evaluate`), and the function fails with it.

A criterion with `arazzo: "1.1"` is read as Arazzo 1.1 reads it (`arazzo_runtime.criteria_1_1`:
no comparison form, a jsonpath condition is an RFC 9535 query, embedded `{$...}` expressions,
evaluation errors fail the criterion); what follows describes the reading without it, 1.0's.

Runtime expressions
-------------------
A condition or context may use:
- `$statusCode`;
- `$response.body`, or `$response.body#/json/pointer` (RFC 6901) into it;
- `$response.header.<Name>`, the name matched case-insensitively;
- what the step sent (`Response.request`, a `SentRequest`): `$url`, `$method`,
  `$request.header.<Name>` (case-insensitively), `$request.query.<name>`,
  `$request.path.<name>`, `$request.body[#/pointer]`;
- any expression listed in `values`, looked up by its exact text.
Anything else is a `CriterionError` naming the expression. A pointer into a member or item
that is not there, an absent header, and a `values` entry without a `value` all yield
*missing*, which is distinct from null.

Comparisons
-----------
Numbers compare numerically (an integer equals the same float; a boolean is not a number).
Values of different types are never equal and never ordered: `==` is false, `!=` true,
`<` `<=` `>` `>=` false. Anything compared with a missing value (missing included) is the
same: `==` false, `!=` true, ordering false. Only numbers and strings have an order; for
other values of one type `<=` and `>=` hold exactly when the two are equal, `<` and `>`
never (RFC 9535's rule). Arrays and objects are equal when their items and members are.
A bare operand or literal used as a condition holds iff its value is the boolean true.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from arazzo_runtime import criteria_1_1
from arazzo_runtime.conditions import And, Comparison, ConditionSyntaxError, Literal, Not, Operand, Or, parse_condition
from arazzo_runtime.criteria_1_1 import ARAZZO_FIELD
from arazzo_runtime.expressions import CONDITION_DELIMITERS, Expression, ExpressionSyntaxError, Header, Path, Query, RequestRef, embedded_text, parse_expression, scan_expression
from arazzo_runtime.jsonpath_versions import RFC9535, is_jsonpath_error, library
from arazzo_runtime.nodes import MISSING, find_nodes, resolve_pointer
from arazzo_runtime.payload import REQUEST_EXPRESSION_KINDS, json_type


class CriterionError(ValueError):
    """A criterion that cannot be evaluated; the message names the criterion and the problem."""


@dataclass(frozen=True)
class SentRequest:
    """What a step sent, as `$url`, `$method` and `$request.<source>` read it: the full URL
    with its query, the method, the headers as sent (Content-Type and Cookie included), the
    query and path parameters as the step gave them (JSON values; a null one was not sent),
    and the body after its replacements (MISSING when none was sent)."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, Any]
    path: Mapping[str, Any]
    body: Any


@dataclass(frozen=True)
class Response:
    """What criteria are evaluated on: the status code, headers with lower-case names, and
    the body (parsed JSON, text, or None when empty); `request` is what the step sent, None
    when the function that performed it does not say (every `$request` value is then missing)."""

    status_code: int
    headers: Mapping[str, str]
    body: Any
    request: SentRequest | None = None


# The forms of runtime expression about what a step sent.
REQUEST_KINDS = REQUEST_EXPRESSION_KINDS


def request_value(expression: Expression, sent: SentRequest | None) -> Any:
    """The value of `$url`, `$method` or `$request.<source>` in what the step sent; MISSING
    when it does not resolve (no such header, parameter or member, or nothing recorded)."""
    if sent is None:
        return MISSING
    if expression.kind == "url":
        return sent.url
    if expression.kind == "method":
        return sent.method
    if not isinstance(expression, RequestRef):
        raise ExpressionSyntaxError(f"{expression.text!r} is not an expression about the request")
    source, name = expression.source, expression.name or ""
    if isinstance(source, Header):
        return header_value(sent.headers, name)
    if isinstance(source, (Query, Path)):
        parameters = sent.query if isinstance(source, Query) else sent.path
        value = parameters.get(name)
        return MISSING if value is None else value
    return resolve_pointer(sent.body, expression.pointer)


CRITERION_TYPES = ("simple", "regex", "jsonpath", "xpath", "jsonpointer")



# Evaluates something on (response, context value); context is MISSING for simple criteria.
Getter = Callable[[Response, Any], Any]
Test = Callable[[Response, Any], bool]


@dataclass(frozen=True)
class CompiledCriteria:
    tests: tuple[tuple[str, Test, Callable[[Response], Any]], ...]  # (id, test, context getter)

    def evaluate(self, response: Response) -> dict[str, bool]:
        results: dict[str, bool] = {}
        for criterion_id, test, context in self.tests:
            try:
                results[criterion_id] = bool(test(response, context(response)))
            except Exception as exc:
                if not is_jsonpath_error(exc):
                    raise
                raise CriterionError(f"criterion {criterion_id}: {_first_line(exc)}") from None
        return results


def evaluate_criteria(evaluate: Mapping[str, Any] | None, values: Mapping[str, Any] | None, response: Response) -> dict[str, bool]:
    """Evaluate every criterion of `evaluate` on `response`: criterion id -> bool."""
    return compile_criteria(evaluate, values).evaluate(response)


def compile_criteria(evaluate: Mapping[str, Any] | None, values: Mapping[str, Any] | None) -> CompiledCriteria:
    """Check and prepare the criteria without a response: syntax, criterion types,
    patterns, and that every runtime expression can be given a value."""
    if evaluate is None:
        evaluate = {}
    if not isinstance(evaluate, Mapping):
        raise CriterionError("evaluate must be a JSON object of criteria")
    known = expression_values(values)
    tests = []
    for criterion_id, criterion in evaluate.items():
        test, context = _compile_criterion(str(criterion_id), criterion, known)
        tests.append((str(criterion_id), test, context))
    return CompiledCriteria(tuple(tests))


def expression_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """`values` (id -> {expression, value}) as expression text -> value; an entry without
    `value` gives MISSING."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise CriterionError("values must be a JSON object")
    known: dict[str, Any] = {}
    for value_id, entry in values.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("expression"), str):
            raise CriterionError(f"values.{value_id} must be an object with an expression string")
        known[entry["expression"]] = entry.get("value", MISSING)
    return known


def _compile_criterion(criterion_id: str, criterion: Any, known: dict[str, Any]) -> tuple[Test, Callable[[Response], Any]]:
    if not isinstance(criterion, Mapping):
        raise CriterionError(f"criterion {criterion_id}: must be a JSON object")
    condition = criterion.get("condition")
    if not isinstance(condition, str) or not condition.strip():
        raise CriterionError(f"criterion {criterion_id}: condition must be a non-empty string")
    kind = criterion.get("type") or "simple"
    if kind not in CRITERION_TYPES:
        raise CriterionError(f"criterion {criterion_id}: unknown criterion type {kind!r}")
    context_text = criterion.get("context")
    if context_text is not None and not isinstance(context_text, str):
        raise CriterionError(f"criterion {criterion_id}: context must be a runtime expression string")

    if criterion.get(ARAZZO_FIELD) is not None:
        return _compile_1_1(criterion_id, criterion, kind, context_text, known)
    if kind == "xpath":
        raise CriterionError(f"criterion {criterion_id}: xpath criteria are not supported")
    if kind == "jsonpointer":
        raise CriterionError(f"criterion {criterion_id}: jsonpointer criteria are Arazzo 1.1's: read only with {ARAZZO_FIELD}: {criteria_1_1.READING}")
    if kind == "simple":
        # The context does not change a simple condition, whose operands are runtime
        # expressions of their own; it is not even resolved.
        return compile_simple(criterion_id, condition, known), _no_context
    if not context_text:
        raise CriterionError(f"criterion {criterion_id}: a {kind} criterion needs a context")
    context_getter = _expression_getter(criterion_id, context_text, known)
    context = lambda response: context_getter(response, MISSING)  # noqa: E731
    if kind == "regex":
        return compile_regex(criterion_id, condition), context
    return compile_jsonpath(criterion_id, condition, known), context


def _no_context(response: Response) -> Any:
    return MISSING


def _compile_1_1(criterion_id: str, criterion: Mapping[str, Any], kind: str, context_text: str | None, known: dict[str, Any]) -> tuple[Test, Callable[[Response], Any]]:
    """A criterion read as Arazzo 1.1 reads it (`arazzo_runtime.criteria_1_1`)."""
    if criterion[ARAZZO_FIELD] != criteria_1_1.READING:
        raise CriterionError(f"criterion {criterion_id}: {ARAZZO_FIELD} must be {criteria_1_1.READING!r} (or absent: Arazzo 1.0), not {criterion[ARAZZO_FIELD]!r}")
    version = criterion.get("version")
    if kind == "xpath":
        raise CriterionError(f"criterion {criterion_id}: xpath criteria need an XPath 3.1 evaluator, which is not supported")
    if version is not None and version not in criteria_1_1.VERSIONS.get(kind, ()):
        raise CriterionError(f"criterion {criterion_id}: {kind} has no version {version!r}")
    if kind == "simple":
        tree = _parse(criterion_id, criterion["condition"], criteria_1_1.READING)

        def operand(text: str) -> Getter:
            return _expression_getter(criterion_id, text, known)

        return _compile_tree(tree, operand, _compare_1_1), _no_context
    if not context_text:
        raise CriterionError(f"criterion {criterion_id}: a {kind} criterion needs a context")
    try:
        template = criteria_1_1.condition_template(criterion["condition"])
    except ExpressionSyntaxError as error:
        raise CriterionError(f"criterion {criterion_id}: {error}") from None
    embedded: dict[str, Callable[[Response], Any]] = {}
    for expression in template.expressions:
        getter = _expression_getter(criterion_id, expression.text, known)
        embedded[expression.text] = functools.partial(lambda get, response: get(response, MISSING), getter)
    context_getter = _expression_getter(criterion_id, context_text, known)
    test = criteria_1_1.compile_test(criterion_id, kind, version, criterion["condition"], embedded, MISSING)
    return test, lambda response: context_getter(response, MISSING)


def _compare_1_1(left: Any, op: str, right: Any) -> bool:
    left, right = criteria_1_1.simple_operands(left, right, MISSING)
    return compare(left, op, right, case_insensitive=True)


# --------------------------------------------------------------------------- simple


def compile_simple(criterion_id: str, condition: str, known: dict[str, Any]) -> Test:
    """A simple condition: operands are runtime expressions, literals are JSON scalars,
    operators `== != < <= > >= && || !` and parentheses (precedence as in
    `arazzo_runtime.conditions`). String comparisons are case-insensitive, as Arazzo 1.0.1
    says: both sides are `casefold()`ed, for equality and for ordering."""
    tree = _parse(criterion_id, condition)

    def operand(text: str) -> Getter:
        return _expression_getter(criterion_id, text, known)

    return _compile_tree(tree, operand, functools.partial(compare, case_insensitive=True))


# --------------------------------------------------------------------------- regex


def compile_regex(criterion_id: str, pattern: str) -> Test:
    """A regex criterion: the context value, as a string, is searched with Python's
    `re.search` (the spec says the pattern is "applied to" the value; anchors in the
    pattern decide how much of it must match). Strings are used as they are, numbers via
    `str()`, booleans as `true`/`false`, arrays and objects as compact JSON text. A missing
    or null context value makes the criterion false."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise CriterionError(f"criterion {criterion_id}: invalid regular expression: {exc}") from None

    def test(response: Response, context: Any) -> bool:
        if context is MISSING or context is None:
            return False
        return compiled.search(embedded_text(context)) is not None

    return test


# --------------------------------------------------------------------------- jsonpath


def compile_jsonpath(criterion_id: str, condition: str, known: dict[str, Any]) -> Test:
    """A jsonpath criterion, in one of two forms.

    The comparison form, e.g. `$.status == 'running' || $.status == 'pending'`: a
    condition with at least one operator and no filter. Operands that start with `$.`,
    `$[` or are `$` alone are singular JSONPath queries (`$.a.b`, `$['a b']`, `$.a[0]`)
    resolved against the context value (no node: missing); operands such as `$inputs.max`
    are runtime expressions, resolved as in simple conditions. Comparisons follow RFC
    9535: strings compare case-sensitively. This form is not RFC 9535 (a comparison is
    only allowed inside a filter) but its meaning is plain, and Arazzo documents use it.

    Anything else is an RFC 9535 query (`$[?@.status == 'running']`,
    `$.items[?@.price > 10]`, `$.a`), evaluated by python-jsonpath in strict mode; the
    criterion holds when the node list is non-empty. Runtime expressions in the query
    (outside string literals), such as `$inputs.max`, are replaced by their value from
    `values` written as a JSON literal; only scalars can be, and only values sent with the
    request. When the query's first segment is a filter (`$[?...]`, filter selectors only)
    and the context value is not an array, the value is wrapped in a one-element array
    first, so the filter tests the value itself. Executors disagree here; without the
    wrapping a filter on an object tests its member values, and no RFC 9535 query could
    test a field of the context object against a condition. A query whose first segment
    is anything else sees the context value as it is. A missing context value selects no
    nodes.

    A criterion's `version` is not consulted: both forms are read as described here
    whatever draft it names.
    """
    tree = _comparison_form(condition)
    if tree is not None:
        return _compile_tree(tree, _member_getter_factory(criterion_id, known), functools.partial(compare, case_insensitive=False))

    query_text = substitute_values(criterion_id, condition, known)
    jsonpath = library()
    try:
        query = jsonpath.environments[RFC9535].compile(query_text)
    except jsonpath.Error as exc:
        raise CriterionError(f"criterion {criterion_id}: invalid JSONPath query {condition!r}: {_first_line(exc)}") from None
    if not isinstance(query, jsonpath.Query):
        raise CriterionError(f"criterion {criterion_id}: {condition!r} is not a single JSONPath query")
    wraps = _starts_with_filter(query)

    def test(response: Response, context: Any) -> bool:
        if context is MISSING:
            return False
        if wraps and not isinstance(context, list):
            context = [context]
        return len(find_nodes(query, context)) > 0

    return test


def _comparison_form(condition: str) -> Any:
    """The condition's tree if it is in the comparison form, else None (an RFC 9535 query)."""
    try:
        tree = parse_condition(condition)
    except ConditionSyntaxError:
        return None
    if isinstance(tree, (Operand, Literal)):
        return None
    return tree


def _starts_with_filter(query: Any) -> bool:
    if not query.segments:
        return False
    first, jsonpath = query.segments[0], library()
    return isinstance(first, jsonpath.ChildSegment) and all(isinstance(selector, jsonpath.Filter) for selector in first.selectors)


def _member_getter_factory(criterion_id: str, known: dict[str, Any]) -> Callable[[str], Getter]:
    def operand(text: str) -> Getter:
        if _RUNTIME_EXPRESSION_START.match(text):
            return _expression_getter(criterion_id, text, known)
        if not text.startswith("$"):
            raise CriterionError(f"criterion {criterion_id}: {text!r} can only be used inside a filter")
        jsonpath = library()
        try:
            query = jsonpath.environments[RFC9535].compile(text)
        except jsonpath.Error as exc:
            raise CriterionError(f"criterion {criterion_id}: invalid JSONPath {text!r}: {_first_line(exc)}") from None
        if not isinstance(query, jsonpath.Query) or not query.singular_query():
            raise CriterionError(f"criterion {criterion_id}: {text!r} must select at most one value (a member path such as $.a.b or $.a[0])")

        def member(response: Response, context: Any) -> Any:
            if context is MISSING:
                return MISSING
            nodes = find_nodes(query, context)
            return nodes[0] if nodes else MISSING

        return member

    return operand


_RUNTIME_EXPRESSION_START = re.compile(r"\$[A-Za-z]")
# What ends a runtime expression inside a JSONPath query besides what ends one in a condition.
_QUERY_DELIMITERS = CONDITION_DELIMITERS + "[],"
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_\-.#/~]")


def substitute_values(criterion_id: str, query: str, known: dict[str, Any]) -> str:
    """Replace each runtime expression in a JSONPath query (a `$` followed by a letter,
    outside string literals; RFC 9535 never writes `$` so) by its value from `values`, as
    a JSON literal. The longest listed expression that matches wins, and it must end where
    a name cannot go on (so `$inputs.max` does not match inside `$inputs.maxPrice`)."""
    by_length = sorted(known, key=len, reverse=True)
    parts: list[str] = []
    position = 0
    quote = None
    while position < len(query):
        character = query[position]
        if quote:
            parts.append(character)
            if character == "\\" and position + 1 < len(query):
                parts.append(query[position + 1])
                position += 2
                continue
            if character == quote:
                quote = None
            position += 1
            continue
        if character in "'\"":
            quote = character
            parts.append(character)
            position += 1
            continue
        if _RUNTIME_EXPRESSION_START.match(query, position):
            expression = _listed_expression_at(query, position, by_length)
            if expression is None:
                try:  # where the grammar says the expression ends, to name it
                    token = query[position : scan_expression(query, position, stop=_QUERY_DELIMITERS)[1]]
                except ExpressionSyntaxError:
                    token = query[position:]
                raise CriterionError(
                    f"criterion {criterion_id}: {token} has no value here: inside a JSONPath query only the values sent with the request can be used"
                )
            parts.append(_json_literal(criterion_id, expression, known[expression]))
            position += len(expression)
            continue
        parts.append(character)
        position += 1
    return "".join(parts)


def _listed_expression_at(query: str, position: int, by_length: list[str]) -> str | None:
    for expression in by_length:
        end = position + len(expression)
        if query.startswith(expression, position) and not _NAME_CHARACTER.match(query, end):
            return expression
    return None


def _json_literal(criterion_id: str, expression: str, value: Any) -> str:
    if value is MISSING:
        raise CriterionError(f"criterion {criterion_id}: {expression} has no value to put into the JSONPath query")
    if isinstance(value, (dict, list)):
        raise CriterionError(f"criterion {criterion_id}: {expression} is {json_type(value)}; only strings, numbers, booleans and null can go into a JSONPath query")
    return json.dumps(value)


# --------------------------------------------------------------------------- shared


def _parse(criterion_id: str, condition: str, version: str = "1.0") -> Any:
    try:
        return parse_condition(condition, version)
    except ConditionSyntaxError as exc:
        raise CriterionError(f"criterion {criterion_id}: {exc}") from None


Compare = Callable[[Any, str, Any], bool]


def _compile_tree(node: Any, operand: Callable[[str], Getter], compare_values: Compare) -> Test:
    if isinstance(node, Or):
        terms = [_compile_tree(term, operand, compare_values) for term in node.terms]
        return lambda response, context: any(term(response, context) for term in terms)
    if isinstance(node, And):
        terms = [_compile_tree(term, operand, compare_values) for term in node.terms]
        return lambda response, context: all(term(response, context) for term in terms)
    if isinstance(node, Not):
        term = _compile_tree(node.term, operand, compare_values)
        return lambda response, context: not term(response, context)
    if isinstance(node, Comparison):
        left, right, op = _value_getter(node.left, operand), _value_getter(node.right, operand), node.op
        return lambda response, context: compare_values(left(response, context), op, right(response, context))
    value = _value_getter(node, operand)
    return lambda response, context: value(response, context) is True


def _value_getter(node: Any, operand: Callable[[str], Getter]) -> Getter:
    if isinstance(node, Literal):
        constant = node.value
        return lambda response, context: constant
    return operand(node.text)


def _expression_getter(criterion_id: str, text: str, known: dict[str, Any]) -> Getter:
    """A getter for a runtime expression: from the response, or from `values`."""
    try:
        expression = parse_expression(text)
    except ExpressionSyntaxError:
        expression = None
    if expression is not None and expression.kind == "status_code":
        return lambda response, context: response.status_code
    if expression is not None and expression.kind == "response_body":
        tokens = expression.pointer
        return lambda response, context: resolve_pointer(response.body, tokens)
    if expression is not None and expression.kind == "response_header" and expression.name is not None:
        name = expression.name.lower()
        return lambda response, context: header_value(response.headers, name)
    if expression is not None and expression.kind in REQUEST_KINDS:
        asked = expression
        return lambda response, context: request_value(asked, response.request)
    if text in known:
        value = known[text]
        return lambda response, context: value
    raise CriterionError(
        f"criterion {criterion_id}: {text} has no value here: only $statusCode, $response.body, "
        "$response.header.<name>, $url, $method, $request.<source> and the values sent with the request can be evaluated"
    )


def header_value(headers: Mapping[str, str], name: str) -> Any:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return MISSING


def compare(left: Any, op: str, right: Any, *, case_insensitive: bool) -> bool:
    """Compare two values with one of `== != < <= > >=`, by the rules in the module docstring."""
    if left is MISSING or right is MISSING:
        return op == "!="
    if op == "==":
        return _equal(left, right, case_insensitive)
    if op == "!=":
        return not _equal(left, right, case_insensitive)
    kind = json_type(left)
    if kind != json_type(right):
        return False
    if kind in ("a number", "a string"):
        if kind == "a string" and case_insensitive:
            left, right = left.casefold(), right.casefold()
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    return op in ("<=", ">=") and _equal(left, right, case_insensitive)


def _equal(left: Any, right: Any, case_insensitive: bool) -> bool:
    kind = json_type(left)
    if kind != json_type(right):
        return False
    if kind == "a string":
        return bool(left.casefold() == right.casefold() if case_insensitive else left == right)
    if kind == "an array":
        return len(left) == len(right) and all(_equal(a, b, case_insensitive) for a, b in zip(left, right, strict=False))
    if kind == "an object":
        return left.keys() == right.keys() and all(_equal(left[key], right[key], case_insensitive) for key in left)
    return bool(left == right)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
