"""Arazzo runtime expressions ($inputs.x, $steps.s.outputs.o, $response.body#/p, ...),
parsed into plain values. Resolving them to state-data paths is the lowering's job."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from arazzo_sfn.errors import ExpressionError, Location

NAME = r"[A-Za-z0-9_\-.]+"
_FORMS = [
    ("status_code", re.compile(r"^\$statusCode$")),
    ("url", re.compile(r"^\$url$")),
    ("method", re.compile(r"^\$method$")),
    ("inputs", re.compile(rf"^\$inputs\.(?P<name>[A-Za-z0-9_\-]+)(?P<rest>(?:\.{NAME}|#/.*)?)$")),
    ("outputs", re.compile(r"^\$outputs\.(?P<name>[A-Za-z0-9_\-]+)$")),
    ("step_output", re.compile(r"^\$steps\.(?P<step>[A-Za-z0-9_\-]+)\.outputs\.(?P<name>[A-Za-z0-9_\-]+)(?P<rest>#/.*)?$")),
    ("workflow_output", re.compile(r"^\$workflows\.(?P<workflow>[A-Za-z0-9_\-]+)\.outputs\.(?P<name>[A-Za-z0-9_\-]+)$")),
    ("response_body", re.compile(r"^\$response\.body(?P<pointer>#.*)?$")),
    ("response_header", re.compile(r"^\$response\.header\.(?P<name>[A-Za-z0-9!#$%&'*+\-.^_`|~]+)$")),
    ("response_other", re.compile(r"^\$response\.(?:query|path)\..+$")),
    ("request", re.compile(r"^\$request\.(?:header|query|path|body).*$")),
    ("source_description", re.compile(rf"^\$sourceDescriptions\.(?P<source>[A-Za-z0-9_\-]+)\.(?P<name>.+)$")),
    ("components", re.compile(r"^\$components\.(?P<kind>[A-Za-z]+)\.(?P<name>.+)$")),
]


@dataclass(frozen=True)
class RuntimeExpression:
    kind: str
    text: str
    name: str | None = None
    step: str | None = None
    pointer: tuple[str, ...] = ()  # decoded JSON pointer tokens into a body or value


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def parse_expression(text: str, location: Location | None = None) -> RuntimeExpression:
    for kind, pattern in _FORMS:
        match = pattern.match(text)
        if not match:
            continue
        groups = match.groupdict()
        pointer: tuple[str, ...] = ()
        if groups.get("pointer"):
            pointer = parse_pointer(groups["pointer"][1:], text, location)
        rest = groups.get("rest") or ""
        if rest.startswith("#"):
            pointer = parse_pointer(rest[1:], text, location)
        elif rest.startswith("."):
            pointer = tuple(rest[1:].split("."))
        return RuntimeExpression(kind, text, groups.get("name"), groups.get("step"), pointer)
    raise ExpressionError(f"{text!r} is not a runtime expression Arazzo 1.0.1 defines", location)


def parse_pointer(pointer: str, text: str, location: Location | None) -> tuple[str, ...]:
    """RFC 6901: '' is the whole value; '/a/b' are tokens, with ~1 -> '/' and ~0 -> '~'."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ExpressionError(f"{text!r}: a JSON pointer starts with '/'", location)
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))
