"""Arazzo runtime expressions ($inputs.x, $steps.s.outputs.o, $response.body#/p, ...),
parsed into plain values. The compiler resolves them to state-data paths; the functions
evaluate the ones about a response."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NAME = r"[A-Za-z0-9_\-.]+"
_FORMS = [
    ("status_code", re.compile(r"^\$statusCode$")),
    ("url", re.compile(r"^\$url$")),
    ("method", re.compile(r"^\$method$")),
    ("inputs", re.compile(rf"^\$inputs\.(?P<name>[A-Za-z0-9_\-]+)(?P<rest>(?:\.{NAME}|#/.*)?)$")),
    ("outputs", re.compile(r"^\$outputs\.(?P<name>[A-Za-z0-9_\-]+)$")),
    # A step id may hold any character the schema allows (spaces, dots): it ends at `.outputs.`.
    ("step_output", re.compile(r"^\$steps\.(?P<step>.+?)\.outputs\.(?P<name>[A-Za-z0-9_\-]+)(?P<rest>#/.*)?$")),
    ("workflow_output", re.compile(r"^\$workflows\.(?P<workflow>[A-Za-z0-9_\-]+)\.outputs\.(?P<name>[A-Za-z0-9_\-]+)$")),
    ("response_body", re.compile(r"^\$response\.body(?P<pointer>#.*)?$")),
    ("response_header", re.compile(r"^\$response\.header\.(?P<name>[A-Za-z0-9!#$%&'*+\-.^_`|~]+)$")),
    ("response_other", re.compile(r"^\$response\.(?:query|path)\..+$")),
    ("request", re.compile(r"^\$request\.(?:header|query|path|body).*$")),
    ("source_description", re.compile(r"^\$sourceDescriptions\.(?P<source>[A-Za-z0-9_\-]+)\.(?P<name>.+)$")),
    ("components", re.compile(r"^\$components\.(?P<kind>[A-Za-z]+)\.(?P<name>.+)$")),
]


# `{$expr}` inside a string: the expression is group 1.
EMBEDDED_EXPRESSION = re.compile(r"\{(\$[^{}]+)\}")


class ExpressionSyntaxError(ValueError):
    """Text that is not a runtime expression Arazzo 1.0.1 defines."""


@dataclass(frozen=True)
class RuntimeExpression:
    kind: str
    text: str
    name: str | None = None
    step: str | None = None
    pointer: tuple[str, ...] = ()  # decoded JSON pointer tokens into a body or value


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def parse_expression(text: str) -> RuntimeExpression:
    for kind, pattern in _FORMS:
        match = pattern.match(text)
        if not match:
            continue
        groups = match.groupdict()
        pointer: tuple[str, ...] = ()
        if groups.get("pointer"):
            pointer = parse_pointer(groups["pointer"][1:], text)
        rest = groups.get("rest") or ""
        if rest.startswith("#"):
            pointer = parse_pointer(rest[1:], text)
        elif rest.startswith("."):
            pointer = tuple(rest[1:].split("."))
        return RuntimeExpression(kind, text, groups.get("name"), groups.get("step"), pointer)
    raise ExpressionSyntaxError(f"{text!r} is not a runtime expression Arazzo 1.0.1 defines")


def parse_pointer(pointer: str, text: str) -> tuple[str, ...]:
    """RFC 6901: '' is the whole value; '/a/b' are tokens, with ~1 -> '/' and ~0 -> '~'."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ExpressionSyntaxError(f"{text!r}: a JSON pointer starts with '/'")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))
