"""The little we need from an OpenAPI description: its operations, found by operationId or
by an operationPath (`{$sourceDescriptions.<name>.url}#/paths/<path>/<method>`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from arazzo_sfn.loader import LoadedFile

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_OPERATION_PATH = re.compile(r"^\{\$sourceDescriptions\.(?P<source>[A-Za-z0-9_\-]+)\.url\}#(?P<pointer>/.*)$")


@dataclass(frozen=True)
class Operation:
    source: str  # the source description's name
    operation_id: str | None
    method: str  # upper case
    path: str  # template, e.g. /jobs/{jobId}
    path_parameters: tuple[str, ...]


def index_operations(source_name: str, source: LoadedFile) -> dict[str, Operation]:
    """operationId -> Operation."""
    return {op.operation_id: op for op in _operations(source_name, source) if op.operation_id}


def _operations(source_name: str, source: LoadedFile) -> Iterator[Operation]:
    paths = (source.data or {}).get("paths") or {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                operation_id = operation.get("operationId") if isinstance(operation.get("operationId"), str) else None
                yield Operation(source_name, operation_id, method.upper(), path, tuple(re.findall(r"\{([^}]+)\}", path)))


def resolve_operation_path(reference: str, sources: dict[str, LoadedFile]) -> Operation:
    """The operation an operationPath points at; ValueError says why it points nowhere."""
    match = _OPERATION_PATH.match(reference)
    if not match:
        raise ValueError(f"operationPath {reference!r} is not of the form {{$sourceDescriptions.<name>.url}}#/paths/<path>/<method>")
    name = match["source"]
    if name not in sources:
        raise ValueError(f"operationPath {reference!r} names unknown source description {name!r}")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in match["pointer"][1:].split("/")]
    if len(tokens) != 3 or tokens[0] != "paths" or tokens[2].lower() not in HTTP_METHODS:
        raise ValueError(f"operationPath {reference!r} must point at /paths/<path>/<method>")
    _, path, method = tokens
    for operation in _operations(name, sources[name]):
        if operation.path == path and operation.method == method.upper():
            return operation
    raise ValueError(f"operationPath {reference!r}: {name} has no {method.upper()} {path}")
