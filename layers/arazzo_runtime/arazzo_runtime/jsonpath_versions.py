"""JSONPath and JSON Pointer as Arazzo 1.1's Expression Type Object names their versions, and
the one python-jsonpath set-up that criteria (`evaluate`, `criteria_1_1`) and selectors
(`select`) evaluate queries with.

`rfc9535` (the default) is python-jsonpath in strict mode: RFC 9535 exactly, no extensions,
standard function types. `draft-goessner-dispatch-jsonpath-00` is its non-strict mode, which
reads the draft's `?(...)` filters; script expressions `[(...)]` are JavaScript that the
draft's own implementation evaluates, found by `script_expression` and refused by the callers.
The library is imported when a query is first compiled: importing it takes longer than the
rest of this runtime, and most steps have none."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from types import SimpleNamespace

RFC9535 = "rfc9535"
GOESSNER = "draft-goessner-dispatch-jsonpath-00"
RFC6901 = "rfc6901"
JSONPATH_VERSIONS = (RFC9535, GOESSNER)  # the default first


@functools.cache
def library() -> SimpleNamespace:
    """python-jsonpath: `Error`, `Query` (a compiled single query), `ChildSegment` and `Filter`
    (to read a query's first segment), and `environments`, one per version."""
    import jsonpath
    from jsonpath.segments import JSONPathChildSegment
    from jsonpath.selectors import Filter

    return SimpleNamespace(
        Error=jsonpath.JSONPathError, Query=jsonpath.JSONPath, ChildSegment=JSONPathChildSegment, Filter=Filter,
        environments={RFC9535: jsonpath.JSONPathEnvironment(strict=True), GOESSNER: jsonpath.JSONPathEnvironment(strict=False)},
    )


def is_jsonpath_error(exc: Exception) -> bool:
    """Whether `exc` is python-jsonpath's: only a compiled query raises one, and compiling it
    imported the library."""
    return "jsonpath" in sys.modules and isinstance(exc, library().Error)


def script_expression(query: str) -> bool:
    """Whether a Goessner query holds a script expression: `(` opening a bracketed selector
    (`[(@.length-1)]`), outside string literals; a filter is `?(`."""
    return any(character == "[" and query[index + 1 :].lstrip().startswith("(") for index, character in unquoted(query))


def unquoted(query: str) -> Iterator[tuple[int, str]]:
    """(index, character) for each character of a query outside its string literals (in
    single or double quotes) and their quotes."""
    quote = ""
    for index, character in enumerate(query):
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        else:
            yield index, character
