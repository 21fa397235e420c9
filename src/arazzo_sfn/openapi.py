"""The little we need from an OpenAPI description: its operations by operationId."""

from __future__ import annotations

import re
from dataclasses import dataclass

from arazzo_sfn.loader import LoadedFile

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # template, e.g. /jobs/{jobId}
    path_parameters: tuple[str, ...]


def index_operations(source: LoadedFile) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    paths = (source.data or {}).get("paths") or {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                names = tuple(re.findall(r"\{([^}]+)\}", path))
                operations[operation["operationId"]] = Operation(operation["operationId"], method.upper(), path, names)
    return operations
