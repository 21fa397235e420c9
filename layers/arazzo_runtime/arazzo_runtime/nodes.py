"""What a runtime expression, a pointer or a query finds inside JSON data: MISSING where it
leads nowhere (which is not null), the value an RFC 6901 pointer names, and the nodes a
compiled JSONPath query selects. Shared by the criteria of both Arazzo versions, the
selectors and the step's outputs."""

from __future__ import annotations

import re
from typing import Any


class _Missing:
    """The value of a pointer, path or header that leads nowhere (not the same as null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def resolve_pointer(value: Any, tokens: tuple[str, ...]) -> Any:
    """Follow decoded RFC 6901 tokens into a value; MISSING when a step leads nowhere."""
    for token in tokens:
        if isinstance(value, dict):
            if token not in value:
                return MISSING
            value = value[token]
        elif isinstance(value, list):
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(value):
                return MISSING
            value = value[int(token)]
        else:
            return MISSING
    return value


def find_nodes(query: Any, data: Any) -> list[Any]:
    """The values of the nodes a compiled python-jsonpath query selects in `data`."""
    # python-jsonpath parses a top-level string as a JSON document; a string is a leaf,
    # so only the query `$` selects it.
    if isinstance(data, str):
        return [data] if not query.segments else []
    found: list[Any] = query.findall(data)
    return found
