"""The Arazzo 1.1 constructs the compiler does not translate yet, refused as *not supported*
(UnsupportedConstruct) at the node that holds them, naming the construct and "Arazzo 1.1",
before a workflow's model is built: none of them may be compiled as if it were something else.

Validation accepts them (they are valid 1.1); only a 1.1 document can hold them, so a 1.0
document is never looked at here. This is the one list to shorten as each is lowered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from arazzo_runtime.conditions import And, Comparison, ConditionSyntaxError, Not, Operand, Or, parse_condition
from arazzo_runtime.expressions import Expression, ExpressionSyntaxError, MessageRef, embedded_expressions, parse_expression
from arazzo_runtime.select import XPATH, selector_type
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.loader import LoadedDocument
from arazzo_sfn.validation.document import document_version, pointer

_ASYNC_STEP_FIELDS = ("channelPath", "action", "correlationId")
# Fields of text for readers, where `$message` is only a word.
_PROSE = frozenset({"summary", "description", "title"})


def refuse_unsupported(document: LoadedDocument, workflow_index: int) -> None:
    """Raise UnsupportedConstruct for the first 1.1 construct that the workflow (or its
    document) holds and the compiler does not lower."""
    data = document.arazzo.data
    if document_version(data) != "1.1":
        return
    for construct, at in _found(data, workflow_index):
        raise UnsupportedConstruct(f"{construct} (Arazzo 1.1) is not supported yet", document.arazzo.source_map.locate(at))


def _found(data: dict[str, Any], index: int) -> Iterator[tuple[str, str]]:
    for s_index, source in enumerate(data.get("sourceDescriptions") or []):
        if isinstance(source, dict) and source.get("type") == "asyncapi":
            yield "an AsyncAPI source description (steps that send or receive messages)", pointer("/sourceDescriptions", s_index, "type")
    base = f"/workflows/{index}"
    workflow = data["workflows"][index]
    components = data.get("components") or {}
    yield from _outputs(workflow.get("outputs"), pointer(base, "outputs"))
    yield from _parameters(workflow.get("parameters"), pointer(base, "parameters"), components)
    for s_index, step in enumerate(workflow.get("steps") or []):
        at = pointer(base, "steps", s_index)
        for name in _ASYNC_STEP_FIELDS:
            if name in step:
                yield f"an AsyncAPI step's `{name}`", pointer(at, name)
        yield from _outputs(step.get("outputs"), pointer(at, "outputs"))
        yield from _parameters(step.get("parameters"), pointer(at, "parameters"), components)
        body = step.get("requestBody")
        if isinstance(body, dict):
            yield from _selectors(body.get("payload"), pointer(at, "requestBody", "payload"))
            for r_index, replacement in enumerate(body.get("replacements") or []):
                where = pointer(at, "requestBody", "replacements", r_index)
                if _is_xpath(replacement.get("targetSelectorType")):
                    yield _NO_XPATH.replace("a Selector Object", "a replacement's `targetSelectorType`"), pointer(where, "targetSelectorType")
                yield from _selectors(replacement.get("value"), pointer(where, "value"))
    yield from _expressions(workflow, base)


# Selector Objects are lowered (arazzo_sfn.lower.selectors) but for XPath ones.
_NO_XPATH = "a Selector Object of type xpath (there is no XPath 3.1 evaluator)"


def _is_xpath(kind: Any) -> bool:
    """Whether a selector type (a string or an Expression Type Object) is XPath."""
    return bool(selector_type(kind)[0] == XPATH)


def _outputs(outputs: Any, at: str) -> Iterator[tuple[str, str]]:
    for name, value in (outputs or {}).items():
        if isinstance(value, dict) and _is_xpath(value.get("type")):
            yield _NO_XPATH, pointer(at, name, "type")


def _parameters(parameters: Any, at: str, components: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for index, entry in enumerate(parameters or []):
        where = pointer(at, index)
        parameter = entry
        if "reference" in entry:
            name = str(entry["reference"]).removeprefix("$components.parameters.")
            parameter = (components.get("parameters") or {}).get(name) or {}
            if "value" in entry:
                yield from _selectors(entry["value"], pointer(where, "value"))
            else:
                yield from _selectors(parameter.get("value"), pointer("/components/parameters", name, "value"))
        else:
            yield from _selectors(entry.get("value"), pointer(where, "value"))


def _selectors(value: Any, at: str) -> Iterator[tuple[str, str]]:
    """An XPath Selector Object in a value (an object with a context and a selector), however deep."""
    if isinstance(value, dict):
        if "context" in value and "selector" in value:
            if _is_xpath(value.get("type")):
                yield _NO_XPATH, pointer(at, "type")
            return
        for key, item in value.items():
            yield from _selectors(item, pointer(at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _selectors(item, pointer(at, index))


def _expressions(value: Any, at: str) -> Iterator[tuple[str, str]]:
    """`$message` wherever the workflow writes an expression (not in its prose)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _PROSE:
                yield from _expressions(item, pointer(at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(item, pointer(at, index))
    elif isinstance(value, str) and any(isinstance(expression, MessageRef) for expression in _written(value)):
        yield "the runtime expression `$message` (AsyncAPI messages)", at


def _written(text: str) -> Iterator[Expression]:
    """The runtime expressions a string holds, read by the 1.1 grammar: the whole string,
    the operands of a condition, and the expressions embedded in `{}`. What the grammar does
    not read is validation's to report."""
    try:
        yield parse_expression(text, "1.1")
    except ExpressionSyntaxError:
        yield from _operands(text)  # a condition, or text that holds none
    try:
        yield from embedded_expressions(text, "1.1")
    except ExpressionSyntaxError:
        pass


def _operands(text: str) -> Iterator[Expression]:
    try:
        condition = parse_condition(text, "1.1")
    except ConditionSyntaxError:
        return
    pending: list[Any] = [condition]
    while pending:
        node = pending.pop()
        if isinstance(node, Operand):
            try:
                yield parse_expression(node.text, "1.1")
            except ExpressionSyntaxError:
                pass
        elif isinstance(node, Comparison):
            pending += [node.left, node.right]
        elif isinstance(node, Not):
            pending.append(node.term)
        elif isinstance(node, (And, Or)):
            pending += list(node.terms)
