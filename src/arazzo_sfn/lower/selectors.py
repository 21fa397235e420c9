"""Arazzo 1.1 Selector Objects, lowered (docs/compiler/arazzo-1.1-selectors.md).

A selector that is one fixed path (a JSON Pointer, or a singular JSONPath query of member
names and non-negative indices) applied to a context that can carry a JSON Pointer is the
runtime expression `context#pointer`: `{context: $inputs.page, selector: /size}` is
`$inputs.page#/size`, `{context: $response.body, selector: $.items[0].id}` is
`$response.body#/items/0/id`. It is lowered as that expression is (a path into the state
data, or a value the step's function resolves from its answer), so it means exactly what
the expression means.

Any other selector (a filter, a wildcard, a descendant, a negative index, or a context that
takes no pointer) is applied by the step's function (`arazzo_runtime.select`): in a step's
outputs it is sent in `keep`, its context an expression about the answer or a value sent in
`values`; in the step's request it is sent as one of `request.selections`, with the
context's value. Where no function runs (a workflow's outputs, the parameters of a step
that calls a workflow) it is refused as not supported."""

from __future__ import annotations

from typing import Any

from arazzo_runtime import select
from arazzo_runtime.expressions import Expression, ExpressionSyntaxError
from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower.common import parse_expression
from arazzo_sfn.model import Selector


def compiled(selector: Selector) -> select.Selector:
    """The runtime's compiled selector; one it cannot evaluate faithfully (xpath, a Goessner
    script expression) is refused as not supported, located. Validation has refused a selector
    that is not of its type."""
    try:
        return select.compile_selector(selector.selector, selector.type, selector.version)
    except select.SelectorError as error:
        raise UnsupportedConstruct(f"the Selector Object's selector {selector.selector!r} is not supported: {error}", selector.location) from None


def compiled_target(target: str, version: str | None, location: Location) -> select.Selector:
    """A replacement's JSONPath target (`targetSelectorType: jsonpath`), compiled."""
    try:
        return select.compile_selector(target, select.JSONPATH, version)
    except select.SelectorError as error:
        raise UnsupportedConstruct(f"the replacement target {target!r} is not supported: {error}", location) from None


def as_expression(selector: Selector) -> Expression | None:
    """The runtime expression the selection is, when it is a fixed path into a context that
    takes a JSON Pointer; None when the step's function must apply it."""
    tokens = compiled(selector).path_tokens()
    if tokens is None:
        return None
    context = parse_expression(selector.context, selector.location, "1.1")  # only 1.1 has Selector Objects
    if not tokens:
        return context
    try:
        return context.with_pointer(tokens)
    except ExpressionSyntaxError:
        return None  # a context that takes no pointer (a header, the status code)


def spec(selector: Selector) -> dict[str, Any]:
    """The selector as the payload carries it: `selector`, `type`, `version` (the type's
    default written out, so the function never guesses it)."""
    found = compiled(selector)
    return {"selector": found.text, "type": found.type, "version": found.version}


def refuse_without_function(selector: Selector, where: str) -> UnsupportedConstruct:
    return UnsupportedConstruct(
        f"a Selector Object that is not one fixed path into its context ({selector.selector!r} on {selector.context}) is not supported "
        f"in {where}: no function runs there to apply it (a JSON Pointer or a singular JSONPath query such as $.a.b[0] is a path)",
        selector.location,
    )
