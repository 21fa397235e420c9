"""The little we need from an OpenAPI description: its operations, found by operationId or
by an operationPath (`{$sourceDescriptions.<name>.url}#/paths/<path>/<method>`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from arazzo_runtime.expressions import ExpressionSyntaxError, SourceDescriptionRef, parse_pointer, parse_template
from arazzo_sfn.loader import LoadedFile

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    source: str  # the source description's name
    operation_id: str | None
    method: str  # upper case
    path: str  # template, e.g. /jobs/{jobId}
    path_parameters: tuple[str, ...]
    query_parameters: tuple[str, ...] = ()  # the query parameters it declares (its path item's too)
    # OpenAPI 3.2: the name of its `in: querystring` parameter (the whole query string), if any.
    querystring_parameter: str | None = None


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
                declared = [*(item.get("parameters") or []), *(operation.get("parameters") or [])]
                query = _parameter_names(source, declared, "query")
                querystring = _parameter_names(source, declared, "querystring")
                yield Operation(source_name, operation_id, method.upper(), path, tuple(re.findall(r"\{([^}]+)\}", path)), query,
                                querystring[-1] if querystring else None)


def _parameter_names(source: LoadedFile, parameters: list[Any], where: str) -> tuple[str, ...]:
    """The names of the parameters `in: <where>` among these, a local `$ref` followed."""
    names: list[str] = []
    for parameter in parameters:
        if isinstance(parameter, dict) and str(parameter.get("$ref", "")).startswith("#/"):
            parameter = _local(source.data, parameter["$ref"])
        if isinstance(parameter, dict) and parameter.get("in") == where and isinstance(parameter.get("name"), str):
            names.append(parameter["name"])
    return tuple(dict.fromkeys(names))


def _local(data: Any, reference: str) -> Any:
    try:
        tokens = parse_pointer(reference[1:])
    except ExpressionSyntaxError:
        return None  # a reference that is no pointer leads nowhere
    for token in tokens:
        data = data.get(token) if isinstance(data, dict) else None
    return data


def resolve_operation_path(reference: str, sources: dict[str, LoadedFile]) -> Operation:
    """The operation an operationPath points at; ValueError says why it points nowhere."""
    form = f"operationPath {reference!r} is not of the form {{$sourceDescriptions.<name>.url}}#/paths/<path>/<method>"
    try:
        parts = parse_template(reference).parts if isinstance(reference, str) else ()
    except ExpressionSyntaxError:
        raise ValueError(form) from None
    if len(parts) != 2 or not isinstance(parts[0], SourceDescriptionRef) or parts[0].reference != "url" or not isinstance(parts[1], str) or not parts[1].startswith("#/"):
        raise ValueError(form)
    name = parts[0].source_name
    if name not in sources:
        raise ValueError(f"operationPath {reference!r} names unknown source description {name!r}")
    try:
        tokens = parse_pointer(parts[1][1:])
    except ExpressionSyntaxError as error:
        raise ValueError(f"operationPath {reference!r}: {error}") from None
    if len(tokens) != 3 or tokens[0] != "paths" or tokens[2].lower() not in HTTP_METHODS:
        raise ValueError(f"operationPath {reference!r} must point at /paths/<path>/<method>")
    _, path, method = tokens
    for operation in _operations(name, sources[name]):
        if operation.path == path and operation.method == method.upper():
            return operation
    raise ValueError(f"operationPath {reference!r}: {name} has no {method.upper()} {path}")
