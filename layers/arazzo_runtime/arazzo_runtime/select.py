"""Arazzo 1.1 Selector Objects: a selector applied to a context value, and JSONPath
replacement targets set in a request body.

A Selector Object is `{context, selector, type}` (Arazzo 1.1.0, "Selector Object"): `type`
is `jsonpath`, `jsonpointer` or `xpath`, or an Expression Type Object `{type, version}`
("Expression Type Object"), the version defaulting to the type's default (`rfc9535` for
JSONPath, `rfc6901` for JSON Pointer). XPath has no evaluator here: it is refused.

What a selector yields
----------------------
- `jsonpointer` (RFC 6901): the value the pointer names; MISSING when it names nothing.
- `jsonpath`, a *singular query* (RFC 9535, 2.3.5.1: names and indices only, at most one
  node, e.g. `$.user.profile.email`, `$.items[0]`): its one node's value; MISSING when it
  selects no node. A singular query stands for one value, as the specification's own
  example (`userEmail: $.user.profile.email`) reads it.
- `jsonpath`, any other query (wildcards, filters, slices, descendants, several selectors):
  the array of the values of the nodes it selects, in the order RFC 9535 gives its
  nodelist (2.1.2); an empty array when it selects none.
The caller decides what MISSING becomes (a step's output: null).

The context must be structured data (a JSON object or array: "Selector Object", `context`);
`is_structured` says whether it is. A string is not parsed: the function already parsed a
JSON answer by its media type.

JSONPath versions: `rfc9535` is evaluated by python-jsonpath in strict mode (RFC 9535
exactly); `draft-goessner-dispatch-jsonpath-00` in its non-strict mode, which reads
Goessner's syntax (`?(@.price < 10)`, a path without `$`), but not the script expressions
`(...)` Goessner evaluates as JavaScript, nor python-jsonpath's own extensions that
Goessner does not have (a union of queries with `|`): those are refused (`SelectorError`),
as no evaluator here can do them faithfully.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arazzo_runtime.expressions import ExpressionSyntaxError, parse_pointer
from arazzo_runtime.jsonpath_versions import GOESSNER, RFC6901, RFC9535, library
from arazzo_runtime.nodes import MISSING, resolve_pointer

JSONPATH = "jsonpath"
JSONPOINTER = "jsonpointer"
XPATH = "xpath"
# The versions each selector type allows ("Expression Type Object"), the default first.
VERSIONS: Mapping[str, tuple[str, ...]] = {
    JSONPATH: (RFC9535, GOESSNER),
    JSONPOINTER: (RFC6901,),
    XPATH: ("xpath-31", "xpath-30", "xpath-20", "xpath-10"),
}
# The types evaluated here.
SELECTOR_TYPES = (JSONPATH, JSONPOINTER)


class SelectorError(ValueError):
    """A selector that cannot be compiled or applied; the message says which and why."""


@dataclass(frozen=True)
class Selector:
    """A compiled selector: `select` applies it to a context value, `locations` gives the
    places it selects (a replacement target)."""

    text: str
    type: str
    version: str
    query: Any = None  # python-jsonpath's compiled query (jsonpath)
    tokens: tuple[str, ...] = ()  # the decoded pointer (jsonpointer)

    @property
    def singular(self) -> bool:
        """Whether it selects at most one node (a JSON Pointer always does)."""
        return self.type == JSONPOINTER or bool(self.query.singular_query())

    def path_tokens(self) -> tuple[str, ...] | None:
        """The selector as JSON Pointer tokens when it is one fixed path that selects the same
        value a pointer would (a pointer, or a singular JSONPath query of member names and
        non-negative indices); None otherwise."""
        if self.type == JSONPOINTER:
            return self.tokens
        if not self.singular:
            return None
        tokens: list[str] = []
        for segment in self.query.segments:
            (selector,) = segment.selectors
            name = getattr(selector, "name", None)
            index = getattr(selector, "index", None)
            if isinstance(name, str):
                tokens.append(name)
            elif isinstance(index, int) and index >= 0:
                tokens.append(str(index))
            else:
                return None
        return tuple(tokens)

    def select(self, context: Any) -> Any:
        """What the selector yields on `context` (see the module's docstring); MISSING for a
        singular selector that selects nothing. Raises SelectorError when the context is not
        structured data."""
        if not is_structured(context):
            raise SelectorError(f"the context is {_described(context)}, not structured data (a JSON object or array)")
        if self.type == JSONPOINTER:
            return resolve_pointer(context, self.tokens)
        values = [match.value for match in self.query.finditer(context)]
        if self.singular:
            return values[0] if values else MISSING
        return values

    def locations(self, document: Any) -> list[tuple[str | int, ...]]:
        """The places in `document` the selector selects, each as the keys and indices that
        lead to it, in nodelist order."""
        if self.type == JSONPOINTER:
            return [self.tokens] if resolve_pointer(document, self.tokens) is not MISSING else []
        if not is_structured(document):
            return [()] if not self.query.segments else []
        return [tuple(match.parts) for match in self.query.finditer(document)]


def is_structured(value: Any) -> bool:
    return isinstance(value, (dict, list))


def default_version(kind: str) -> str:
    return VERSIONS[kind][0]


def compile_selector(text: Any, kind: Any, version: Any = None) -> Selector:
    """Compile a selector of `kind` (`jsonpath` or `jsonpointer`) and `version` (the type's
    default when None). Raises SelectorError for a type or version not evaluated here, or a
    selector that is not one of its type."""
    if not isinstance(text, str):
        raise SelectorError(f"the selector must be a string, not {_described(text)}")
    if kind == XPATH:
        raise SelectorError("xpath selectors are not supported: there is no XPath 3.1 evaluator")
    if kind not in SELECTOR_TYPES:
        raise SelectorError(f"the selector type must be one of {', '.join(SELECTOR_TYPES)}, not {kind!r}")
    version = default_version(kind) if version is None else version
    if version not in VERSIONS[kind]:
        raise SelectorError(f"{kind} version {version!r} is not one of {', '.join(VERSIONS[kind])}")
    return _compiled(text, kind, version)


@functools.lru_cache(maxsize=256)
def _compiled(text: str, kind: str, version: str) -> Selector:
    if kind == JSONPOINTER:
        try:
            return Selector(text, kind, version, tokens=parse_pointer(text))
        except ExpressionSyntaxError as error:
            raise SelectorError(f"{text!r} is not a JSON Pointer: {error}") from None
    jsonpath = library()
    try:
        query = jsonpath.environments[version].compile(text)
    except jsonpath.Error as error:
        what = "an RFC 9535 JSONPath query" if version == RFC9535 else "a JSONPath query this evaluator reads as Goessner's draft does (script expressions are not)"
        raise SelectorError(f"{text!r} is not {what}: {str(error).splitlines()[0]}") from None
    if not isinstance(query, jsonpath.Query):
        raise SelectorError(f"{text!r} is not a single JSONPath query (a union of queries with '|' is not JSONPath)")
    return Selector(text, kind, version, query=query)


def set_at(document: Any, place: tuple[str | int, ...], value: Any) -> Any:
    """`document` with `value` at `place` (an existing member or item); the whole document
    replaced when `place` is empty. Changes `document` in place."""
    if not place:
        return value
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = value
    return document


def selector_type(value: Any) -> tuple[Any, Any]:
    """(type, version) of a Selector Object's `type`: a string, or an Expression Type Object."""
    if isinstance(value, Mapping):
        return value.get("type"), value.get("version")
    return value, None


def _described(value: Any) -> str:
    if value is MISSING:
        return "missing"
    from arazzo_runtime.payload import json_type

    return json_type(value)


def apply_selections(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a step's request (the payload's `request`) with each of its `selections`
    resolved, in order: the selector applied to the selection's `value` (the context's
    value) and what it yields put at `at`, a JSON Pointer into the request; null when a
    singular selector selects nothing (a parameter that is null is not sent, a body member
    in `omitNull` is left out). Raises SelectorError naming the selection for a selector
    that does not compile, a context that is not structured data, or an `at` that is not a
    place in the request. The request given is not changed."""
    selections = request.get("selections") or []
    resolved = copy.deepcopy({name: value for name, value in request.items() if name != "selections"})
    for index, selection in enumerate(selections):
        where = f"selection {index} (at {selection.get('at')!r})"
        try:
            selector = compile_selector(selection.get("selector"), selection.get("type"), selection.get("version"))
            selected = selector.select(selection.get("value"))
            tokens = parse_pointer(selection.get("at"))
        except (SelectorError, ExpressionSyntaxError) as error:
            raise SelectorError(f"{where}: {error}") from None
        place = _place(resolved, tokens)
        if not place:  # the request itself, or no place in it
            raise SelectorError(f"{where}: not a place in the request")
        set_at(resolved, place, None if selected is MISSING else selected)
    return resolved


def _place(document: Any, tokens: tuple[str, ...]) -> tuple[str | int, ...] | None:
    """The keys and indices of an existing member or item a pointer names, None if none."""
    place: list[str | int] = []
    value = document
    for token in tokens:
        if isinstance(value, dict) and token in value:
            place.append(token)
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            place.append(int(token))
            value = value[int(token)]
        else:
            return None
    return tuple(place)
