"""What every step function returns to the state machine, whoever performed the request.

The payload a compiled Task sends (besides `step`, `request` and the execution's ids) may ask
for more than the plain answer:

    "evaluate": {"c0": {type, condition, context}}   criteria to judge (see `evaluate`)
    "values":   {"v0": {expression, value}}          values those criteria read
    "keep": {                                         what the workflow reads of the answer
        "body":    ["/status", "/data/0/id"],         JSON pointers Choice rules read ("" = all)
        "headers": ["retry-after"],                  header names Choice rules read
        "outputs": {"jobId": "$response.body#/jobId"},  the step's outputs read later
        "reads":   {"r0": "$response.body#/status",     other response values read later,
                    "r1": {"seconds": "$response.header.Retry-After", "fallback": 30}},  and waits
        "success": [{type, condition, context}]       the success criteria
    }
    "loops":     {"<key>": {"iterations": 3, "total": 7}}   loop counters, answered one higher
    "loopAgain": {"while": ["c0", "c1"], "unless": [["c2"]], "maxIterations": 10, "budget": 7666}

and the answer is

    {"statusCode": 200, "headers": {...}, "body": ..., "retryAfterSeconds": 30 or null,
     "criteria": {"c0": true}, "outputs": {...}, "reads": {...}, "loops": {...}}

Without `keep`, the body is whole and the headers are `kept_headers`: the answer of a
payload that says nothing of what is read. With `keep`, a step keeps in the state data only
what the workflow reads of it: the body is cut down to the members at `keep.body` (the
whole body when the success criteria do not hold, so the failure can show what the server
said), the headers to `keep.headers`, and each output and read is resolved here, null when
it does not resolve (a pointer to a member the body lacks, an absent header), so the state
machine never meets a path that leads nowhere. What is kept of one answer may not exceed
`MAX_KEPT_BYTES` (`ResponseTooLarge`).

`loopAgain` is the poll loop written as the Task's own Retry: while the success criteria
and the loop action's criteria (`while`) hold and no earlier action's do (`unless`, each a
list that holds when all its criteria hold), and the loop's count (`attempt`, the Task's
retry count) is below `maxIterations` (when given) and `budget`, the function raises
`LoopAgain` and the Retrier waits and runs it again. `response_dict` and `step_answer`
perform no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from arazzo_runtime.errors import InvalidRequest, LoopAgain, ResponseTooLarge
from arazzo_runtime.evaluate import MISSING, Response, compile_criteria, header_value, resolve_pointer
from arazzo_runtime.expressions import ExpressionSyntaxError, parse_expression, parse_pointer
from arazzo_runtime.http import retry_after_seconds

# The headers carried into state data are bounded, so that they cannot crowd the body out
# of the 256 KiB Step Functions allows.
MAX_KEPT_HEADERS = 50
MAX_KEPT_HEADER_CHARS = 8 * 1024
# Kept first, because workflows and the state machine read them.
PRIORITY_HEADERS = ("content-type", "retry-after", "location")
# What one answer may keep in the state data: Step Functions holds 256 KiB in all, for every
# step's kept answer and the inputs together.
MAX_KEPT_BYTES = 200_000


class AnsweredRequest(Protocol):
    status_code: int
    headers: Mapping[str, str]
    body: Any


def response_dict(response: AnsweredRequest, evaluate: Mapping[str, Any] | None = None, values: Mapping[str, Any] | None = None, now: datetime | None = None) -> dict:
    """The answer to a payload that asks only for criteria (see the module's docstring)."""
    return step_answer(response, {"evaluate": evaluate, "values": values}, now)


def step_answer(response: AnsweredRequest, payload: Mapping[str, Any] | None, now: datetime | None = None) -> dict:
    """The answer for `response` to the step payload `payload`. `now` is the moment an
    HTTP-date in Retry-After is counted from (the current time when None). Raises
    `CriterionError` for a criterion that cannot be evaluated, `InvalidRequest` for a
    malformed `keep`, `loops` or `loopAgain`, `ResponseTooLarge`, and `LoopAgain` (above)."""
    payload = payload or {}
    step = payload.get("step") or "step"
    headers = {str(name).lower(): str(value) for name, value in response.headers.items()}
    answer = Response(response.status_code, headers, response.body)
    criteria = compile_criteria(payload.get("evaluate"), payload.get("values")).evaluate(answer)
    result: dict[str, Any] = {
        "statusCode": answer.status_code,
        "headers": kept_headers(headers),
        "body": answer.body,
        "retryAfterSeconds": retry_after_seconds(headers, now),
        "criteria": criteria,
    }
    keep = payload.get("keep")
    if keep is not None:
        result.update(_kept(step, answer, _object(step, "keep", keep), payload.get("values")))
    if payload.get("loops") is not None:
        result["loops"] = _counted(step, _object(step, "loops", payload["loops"]))
    if payload.get("loopAgain") is not None:
        spec = _object(step, "loopAgain", payload["loopAgain"])
        _loop_again(step, spec, criteria, payload.get("attempt", 0))
        if isinstance(spec.get("key"), str):
            # The loop's passes so far, for the Choice and the cause when its bound is reached.
            result["loops"] = {spec["key"]: {"iterations": payload.get("attempt", 0), "total": payload.get("attempt", 0)}}
    return result


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


def resolve(text: str, response: Response) -> Any:
    """The value of a runtime expression about the response (`$statusCode`,
    `$response.body[#/pointer]`, `$response.header.<name>`), or MISSING when it does not
    resolve."""
    expression = parse_expression(text)
    if expression.kind == "status_code":
        return response.status_code
    if expression.kind == "response_body":
        return resolve_pointer(response.body, expression.pointer)
    if expression.kind == "response_header":
        return header_value(response.headers, expression.name)
    raise ExpressionSyntaxError(f"{text!r} is not an expression about the response")


def sparse_copy(value: Any, pointers: list[tuple[str, ...]]) -> Any:
    """`value` with only the members at `pointers` (decoded tokens): objects keep the members
    on the way, arrays keep their positions up to the deepest index read (the items before
    it that nobody reads become null). A pointer that leads nowhere keeps nothing; the
    empty pointer keeps everything. None when nothing is kept."""
    if () in pointers:
        return value
    kept: Any = None
    for tokens in pointers:
        if resolve_pointer(value, tokens) is MISSING:
            continue
        kept = _graft(kept, value, tokens)
    return kept


def _graft(kept: Any, value: Any, tokens: tuple[str, ...]) -> Any:
    if not tokens:
        return value
    token, rest = tokens[0], tokens[1:]
    if isinstance(value, dict):
        kept = kept if isinstance(kept, dict) else {}
        kept[token] = _graft(kept.get(token), value[token], rest)
        return kept
    index = int(token)
    kept = kept if isinstance(kept, list) else []
    kept.extend([None] * (index + 1 - len(kept)))
    kept[index] = _graft(kept[index], value[index], rest)
    return kept


def _kept(step: str, answer: Response, keep: Mapping[str, Any], values: Any) -> dict:
    success = keep.get("success", [])
    if not isinstance(success, list):
        raise InvalidRequest(f"{step}: keep.success must be a list of criteria")
    pointers = [_pointer(step, text) for text in _strings(step, "keep.body", keep.get("body", []))]
    succeeded = all(compile_criteria({f"success.{i}": c for i, c in enumerate(success)}, values).evaluate(answer).values())
    kept = {
        # A failed step keeps the whole body: the failure names the step and what the server said.
        "body": sparse_copy(answer.body, pointers) if succeeded else answer.body,
        "headers": {name: answer.headers[name] for name in (h.lower() for h in _strings(step, "keep.headers", keep.get("headers", []))) if name in answer.headers},
        "outputs": _resolved(step, "keep.outputs", keep.get("outputs", {}), answer),
        "reads": _resolved(step, "keep.reads", keep.get("reads", {}), answer),
    }
    size = len(json.dumps(kept, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_KEPT_BYTES:
        largest = max(("body", "outputs", "reads"), key=lambda part: len(json.dumps(kept[part], separators=(",", ":"))))
        raise ResponseTooLarge(
            f"{step}: what the workflow reads of the HTTP {answer.status_code} answer is {size} bytes, "
            f"over the {MAX_KEPT_BYTES} a step may keep in Step Functions' state (most of it: {largest})"
        )
    return kept


def _resolved(step: str, field: str, expressions: Any, answer: Response) -> dict:
    """Each entry resolved: an expression text (null when it does not resolve), or
    `{"seconds": expression, "fallback": n}`, a wait in whole seconds (`Retry-After` read as
    HTTP says: seconds or a date), `fallback` when it does not resolve to one."""
    if not isinstance(expressions, Mapping):
        raise InvalidRequest(f"{step}: {field} must map names to runtime expressions")
    resolved = {}
    for name, entry in expressions.items():
        try:
            if isinstance(entry, str):
                value = resolve(entry, answer)
                resolved[name] = None if value is MISSING else value
            elif isinstance(entry, Mapping) and isinstance(entry.get("seconds"), str) and _is_count(entry.get("fallback")):
                resolved[name] = _seconds(entry["seconds"], answer, entry["fallback"])
            else:
                raise InvalidRequest(f"{step}: {field}.{name} must be a runtime expression or {{seconds, fallback}}")
        except ExpressionSyntaxError as error:
            raise InvalidRequest(f"{step}: {field}.{name}: {error}") from None
    return resolved


def _seconds(text: str, answer: Response, fallback: int) -> int:
    expression = parse_expression(text)
    if expression.kind == "response_header" and expression.name.lower() == "retry-after":
        seconds = retry_after_seconds(answer.headers)
        return fallback if seconds is None else seconds
    value = resolve(text, answer)
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return fallback
    return math.ceil(value)


def _counted(step: str, loops: Mapping[str, Any]) -> dict:
    counted = {}
    for key, counter in loops.items():
        if not isinstance(counter, Mapping) or not all(_is_count(counter.get(part)) for part in ("iterations", "total")):
            raise InvalidRequest(f"{step}: loops.{key} must be {{iterations, total}}, two non-negative integers")
        counted[key] = {"iterations": counter["iterations"] + 1, "total": counter["total"] + 1}
    return counted


def _loop_again(step: str, spec: Mapping[str, Any], criteria: dict[str, bool], attempt: Any) -> None:
    holds = _strings(step, "loopAgain.while", spec.get("while", []))
    unless = spec.get("unless", [])
    if not isinstance(unless, list):
        raise InvalidRequest(f"{step}: loopAgain.unless must be a list of lists of criterion ids")
    earlier = [_strings(step, "loopAgain.unless", group) for group in unless]
    for cid in holds + [cid for group in earlier for cid in group]:
        if cid not in criteria:
            raise InvalidRequest(f"{step}: loopAgain names criterion {cid}, which is not evaluated")
    bounds = []
    for name in ("maxIterations", "budget"):
        bound = spec.get(name)
        if bound is not None and not _is_count(bound):
            raise InvalidRequest(f"{step}: loopAgain.{name} must be a non-negative integer, got {bound!r}")
        if bound is not None:
            bounds.append(bound)
    if not _is_count(attempt):
        raise InvalidRequest(f"{step}: attempt must be a non-negative integer")
    if not all(criteria[cid] for cid in holds) or any(all(criteria[cid] for cid in group) for group in earlier):
        return  # another action applies: the state machine's Choice routes the answer
    if bounds and attempt >= min(bounds):
        return  # the bound is reached: the Choice takes the loop's limit
    raise LoopAgain(f"{step}: the loop goes on (pass {attempt + 1})")


def _object(step: str, field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{step}: {field} must be a JSON object")
    return value


def _strings(step: str, field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{step}: {field} must be a list of strings")
    return value


def _pointer(step: str, text: str) -> tuple[str, ...]:
    try:
        return parse_pointer(text, text)
    except ExpressionSyntaxError as error:
        raise InvalidRequest(f"{step}: keep.body: {error}") from None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
