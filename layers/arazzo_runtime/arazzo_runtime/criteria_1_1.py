"""Criteria read as Arazzo 1.1 reads them: a payload criterion with `arazzo: "1.1"`.

A criterion without that field is read the 1.0 way (`arazzo_runtime.evaluate`); the two
readings differ, so a 1.0 document keeps its meaning. What 1.1 says ("Criterion Object",
"Condition Evaluation", "Expression Type Object"), and how this module reads it:

- `type` is `simple` (the default), `regex`, `jsonpath` or `jsonpointer`, with an optional
  `version` from the Expression Type Object: `rfc9535` (the default) or
  `draft-goessner-dispatch-jsonpath-00` for jsonpath, `rfc6901` for jsonpointer. `xpath` is
  refused: it needs an XPath 3.1 evaluator.
- Simple: as in 1.0 (strings compare ignoring case), except that a value that is absent
  (a pointer or header that leads nowhere) reads as null ("null or undefined" are one in
  1.1's text), null equals only null, and a string that is a JSON number compared with a
  number is read as that number ("Numeric strings SHOULD be coerced"), for every
  comparison operator.
- Regex, jsonpath and jsonpointer conditions first have their embedded `{$...}`
  expressions evaluated and substituted as text ("Runtime Expressions": a string as it is,
  another scalar as its JSON text, an array or object as JSON). Then:
  - regex: Python's `re.search` on the context value as text (as in 1.0);
  - jsonpath `rfc9535`: an RFC 9535 query on the context value (python-jsonpath, strict);
    it passes when its nodelist is non-empty. No comparison form, no wrapping of the
    context: a filter on an object tests the object's member values, as RFC 9535 says;
  - jsonpath `draft-goessner-dispatch-jsonpath-00`: the query read by python-jsonpath's
    non-strict environment, which reads the draft's `?(...)` filters; script expressions
    `(...)` are refused by the compiler;
  - jsonpointer (this project's reading; 1.1 gives none): the condition is an RFC 6901 JSON
    Pointer into the context value; it passes when it resolves to a value (null included).
  A context that is null or absent fails. A condition that cannot be evaluated (an invalid
  query or pattern after substitution, an embedded expression with no value) fails and
  is logged ("Evaluation Errors"); it never raises.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from arazzo_runtime.conditions import ConditionSyntaxError, Literal, Operand, parse_condition
from arazzo_runtime.expressions import CONDITION_DELIMITERS, ExpressionSyntaxError, Template, embedded_text, parse_pointer, parse_template, scan_expression
from arazzo_runtime.jsonpath_versions import GOESSNER, RFC6901, RFC9535, library, script_expression, unquoted
from arazzo_runtime.nodes import MISSING, find_nodes, resolve_pointer

ARAZZO_FIELD = "arazzo"  # the payload criterion's field naming the reading
READING = "1.1"
# The versions each expression type may name (Expression Type Object), the default first.
VERSIONS = {"jsonpath": (RFC9535, GOESSNER), "jsonpointer": (RFC6901,), "regex": (), "simple": ()}

logger = logging.getLogger(__name__)
# What ends a runtime expression written bare in a query, besides what ends one in a condition.
_QUERY_DELIMITERS = CONDITION_DELIMITERS + "[],'\""


class QueryError(ValueError):
    """A condition that is not a query (or pointer) of its type; the message says why."""


# --------------------------------------------------------------------------- text


def condition_template(condition: str) -> Template:
    """The condition's literal text and its `{$...}` expressions (1.1's grammar)."""
    return parse_template(condition, READING)


# --------------------------------------------------------------------------- queries


def compile_query(condition: str, version: str = RFC9535) -> Any:
    """The JSONPath query `condition` is in `version`; QueryError naming what is wrong. A
    comparison outside a filter (`$.status == 'done'`) is not an RFC 9535 query: the
    message suggests the filter that says it."""
    if version == GOESSNER and script_expression(condition):
        raise QueryError(f"`{condition}` uses a script expression `(...)` (JavaScript that the draft's own implementation evaluates)")
    jsonpath = library()
    try:
        query = jsonpath.environments[version].compile(condition)
    except jsonpath.Error as error:
        if is_comparison(condition):
            raise QueryError(comparison_message(condition)) from None
        bare = _bare_expression(condition)
        hint = f"; a runtime expression is embedded in a 1.1 condition as `{{{bare}}}`" if bare else ""
        raise QueryError(f"`{condition}` is not a valid JSONPath query ({version}): {_first_line(error)}{hint}") from None
    if not isinstance(query, jsonpath.Query):
        raise QueryError(f"`{condition}` is not a single JSONPath query ({version})")
    return query


def is_comparison(condition: str) -> bool:
    """A condition that reads as comparisons of JSONPath operands (`$.a == 'x' && ...`)."""
    try:
        tree = parse_condition(condition, READING)
    except ConditionSyntaxError:
        return False
    return not isinstance(tree, (Operand, Literal))


def comparison_message(condition: str) -> str:
    filtered = _relative(condition)
    return (
        f"`{condition}` is not an RFC 9535 JSONPath query: Arazzo 1.1 reads a jsonpath condition as a query whose nodelist decides, "
        f"and a comparison is allowed only inside a filter; write the filter form `$[?{filtered}]` (it tests each element or member "
        f"value of the context; `$[?{condition}]` tests the context's own members)"
    )


def _relative(condition: str) -> str:
    """The condition with each JSONPath root `$` (not a runtime expression, not in a string)
    written `@`, the current node of a filter."""
    out = list(condition)
    for index, character in unquoted(condition):
        if character == "$" and not condition[index + 1 : index + 2].isalpha():
            out[index] = "@"
    return "".join(out)


def _bare_expression(condition: str) -> str | None:
    """The first runtime expression written without braces (`$inputs.max`), outside string
    literals, as the grammar reads it; None when there is none."""
    for index, character in unquoted(condition):
        if character == "$" and condition[index + 1 : index + 2].isalpha() and condition[index - 1 : index] != "{":
            try:
                return scan_expression(condition, index, READING, stop=_QUERY_DELIMITERS)[0].text
            except ExpressionSyntaxError:
                continue
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------- matchers

Matcher = Callable[[Any], bool]  # context value (not null, not absent) -> pass


def matcher(kind: str, version: str | None, condition: str) -> Matcher:
    """What the condition tests of the context value, once its expressions are substituted;
    QueryError when it is not a query, pointer or pattern of its type."""
    if kind == "regex":
        try:
            pattern = re.compile(condition)
        except re.error as error:
            raise QueryError(f"`{condition}` is not a valid regular expression (Python's re): {error}") from None
        return lambda context: pattern.search(embedded_text(context)) is not None
    if kind == "jsonpointer":
        try:
            tokens = parse_pointer(condition)
        except ExpressionSyntaxError as error:
            raise QueryError(str(error)) from None
        return lambda context: resolve_pointer(context, tokens) is not MISSING
    query = compile_query(condition, version or RFC9535)
    library_error = library().Error

    def selects(context: Any) -> bool:
        try:
            return len(find_nodes(query, context)) > 0
        except library_error as error:  # e.g. a function given a value of the wrong type
            raise QueryError(f"`{condition}` cannot be evaluated on the context: {_first_line(error)}") from None

    return selects


# --------------------------------------------------------------------------- a criterion

Resolve = Callable[[Any], Any]  # the response -> a value (MISSING when absent)


def compile_test(criterion_id: str, kind: str, version: str | None, condition: str, embedded: Mapping[str, Resolve], missing: Any) -> Callable[[Any, Any], bool]:
    """The test of a regex, jsonpath or jsonpointer criterion on (response, context value).
    `embedded` resolves each expression embedded in the condition, by its text; `missing`
    is the value of one that resolves to nothing."""
    template = condition_template(condition)
    fixed: Matcher | QueryError | None = None
    if not template.expressions:
        try:
            fixed = matcher(kind, version, condition)
        except QueryError as error:
            fixed = error

    def test(response: Any, context: Any) -> bool:
        if context is missing or context is None:
            return False  # "If the context evaluates to null or undefined ... fail"
        try:
            if isinstance(fixed, QueryError):
                raise fixed
            if fixed is not None:
                return fixed(context)
            text = []
            for part in template.parts:
                if isinstance(part, str):
                    text.append(part)
                    continue
                value = embedded[part.text](response)
                if value is missing:
                    raise QueryError(f"{part.text} has no value to substitute into the condition")
                text.append(embedded_text(value))
            return matcher(kind, version, "".join(text))(context)
        except QueryError as error:
            logger.warning("criterion %s fails: %s", criterion_id, error)
            return False

    return test


# --------------------------------------------------------------------------- simple conditions

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def simple_operands(left: Any, right: Any, missing: Any) -> tuple[Any, Any]:
    """Two operands of a 1.1 simple comparison as they are compared: absent reads as null;
    a numeric string compared with a number is that number."""
    left = None if left is missing else left
    right = None if right is missing else right
    if _is_number(left) and isinstance(right, str) and _JSON_NUMBER.fullmatch(right):
        right = json.loads(right)
    elif _is_number(right) and isinstance(left, str) and _JSON_NUMBER.fullmatch(left):
        left = json.loads(left)
    return left, right


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
