"""What every step function returns to the state machine, whoever performed the request:

    {"statusCode": 200, "headers": {...lower-case names}, "body": ...,
     "retryAfterSeconds": 30 or null, "criteria": {"c0": true, ...}}

`response_dict` takes anything with `status_code`, `headers` and `body` (the generic
operation's `Response`, or an Airbyte `ApiResponse`); it performs no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Protocol

from arazzo_runtime.evaluate import Response, evaluate_criteria
from arazzo_runtime.http import retry_after_seconds

# The headers carried into state data are bounded, so that they cannot crowd the body out
# of the 256 KiB Step Functions allows.
MAX_KEPT_HEADERS = 50
MAX_KEPT_HEADER_CHARS = 8 * 1024
# Kept first, because workflows and the state machine read them.
PRIORITY_HEADERS = ("content-type", "retry-after", "location")


class AnsweredRequest(Protocol):
    status_code: int
    headers: Mapping[str, str]
    body: Any


def response_dict(response: AnsweredRequest, evaluate: Mapping[str, Any] | None = None, values: Mapping[str, Any] | None = None, now: datetime | None = None) -> dict:
    """The contract dict for `response`. Criteria and `retryAfterSeconds` see every header;
    only `kept_headers` travel on. `now` is the moment an HTTP-date in Retry-After is
    counted from (the current time when None). Raises `CriterionError` for a criterion
    that cannot be evaluated."""
    headers = {str(name).lower(): str(value) for name, value in response.headers.items()}
    answer = Response(response.status_code, headers, response.body)
    return {
        "statusCode": answer.status_code,
        "headers": kept_headers(headers),
        "body": answer.body,
        "retryAfterSeconds": retry_after_seconds(headers, now),
        "criteria": evaluate_criteria(evaluate or {}, values or {}, answer),
    }


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """At most `MAX_KEPT_HEADERS` headers and `MAX_KEPT_HEADER_CHARS` characters of names
    and values: `PRIORITY_HEADERS` first, then the others in the order received. A header
    that does not fit in what is left is dropped whole (never cut), and later smaller ones
    may still fit."""
    ordered = [name for name in PRIORITY_HEADERS if name in headers]
    ordered += [name for name in headers if name not in PRIORITY_HEADERS]
    kept: dict[str, str] = {}
    room = MAX_KEPT_HEADER_CHARS
    for name in ordered:
        if len(kept) == MAX_KEPT_HEADERS:
            break
        size = len(name) + len(headers[name])
        if size <= room:
            kept[name] = headers[name]
            room -= size
    return kept
