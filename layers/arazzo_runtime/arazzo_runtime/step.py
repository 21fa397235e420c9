"""What every step function returns to the state machine, whoever performed the request:
the `StepAnswer` to a `StepPayload` (arazzo_runtime.payload, which defines both).

The answer is

    {"statusCode": 200, "headers": {...}, "body": ..., "retryAfterSeconds": 30 or null,
     "criteria": {"c0": true}, "outputs": {...}, "reads": {...}, "loops": {...}}

with `criteria` the payload's `evaluate`, each judged on the answer (with the payload's
`values`). Without `keep`, the body is whole and the headers are `kept_headers`. With
`keep`, a step keeps in the state data only what the workflow reads of it: the body is cut
down to the members at `keep.body` (the whole body when the success criteria do not hold,
so the failure can show what the server said), the headers to `keep.headers`, and each
output and read is resolved here, null when it does not resolve (a pointer to a member the
body lacks, an absent header, an Arazzo 1.1 selector that selects nothing), so the state
machine never meets a path that leads nowhere.
What is kept of one answer may not exceed `MAX_KEPT_BYTES` (`ResponseTooLarge`). The
counters of `loops` are answered one higher.

`loopAgain` is the poll loop written as the Task's own Retry: while the success criteria
and the loop action's criteria (`while`) hold and no earlier action's do (`unless`, each a
list that holds when all its criteria hold), and the loop's count (`attempt`, the Task's
retry count) is below `maxIterations` (when given) and `budget`, the function raises
`LoopAgain` and the Retrier waits and runs it again.

A criteria payload has no request and no answer: `criteria_answer` judges its criteria on
the values it was sent alone. `response_dict`, `step_answer` and `criteria_answer` perform
no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, TypeGuard, cast

from arazzo_runtime.errors import LoopAgain, ResponseTooLarge
from arazzo_runtime.evaluate import REQUEST_KINDS, CompiledCriteria, Response, compile_criteria, expression_values, header_value, request_value
from arazzo_runtime.expressions import ExpressionSyntaxError, parse_expression, parse_pointer
from arazzo_runtime.http import retry_after_seconds
from arazzo_runtime.nodes import MISSING, resolve_pointer
from arazzo_runtime.payload import CriteriaAnswer, CriteriaPayload, Criterion, ExpressionValue, Keep, Read, RetryLoop, SelectionRead, StepAnswer, StepPayload, WaitRead
from arazzo_runtime.select import compile_selector, is_structured

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
    """An answer as the transport or a client gives it (read only)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> Any: ...


def response_dict(response: AnsweredRequest, evaluate: Mapping[str, Any] | None = None, values: Mapping[str, Any] | None = None, now: datetime | None = None) -> StepAnswer:
    """The answer to a payload that asks only for criteria (see the module's docstring)."""
    answer = _response(response)
    return _plain_answer(answer, compile_criteria(evaluate, values).evaluate(answer), now)


def check_criteria(payload: StepPayload) -> None:
    """Compile every criterion the answer will judge (`evaluate` and the success criteria of
    `keep`), so that a bad one is refused (`CriterionError`) before the request is sent."""
    compile_criteria(payload.evaluate, payload.values)
    if payload.keep is not None:
        _success_criteria(payload.keep.success, payload.values)


# What criteria of a criteria payload are judged on: no request was sent and nothing
# answered, so `$statusCode`, `$response...` and `$request...` do not resolve; the compiler
# sends such a payload only criteria that read its `values`.
NO_ANSWER = Response(status_code=0, headers={}, body=MISSING)


def criteria_answer(payload: CriteriaPayload) -> CriteriaAnswer:
    """The verdict of each criterion of a criteria payload, on its values. Raises
    `CriterionError` for a criterion that cannot be evaluated."""
    return {"criteria": compile_criteria(payload.evaluate, payload.values).evaluate(NO_ANSWER)}


def step_answer(response: AnsweredRequest, payload: StepPayload | None, now: datetime | None = None) -> StepAnswer:
    """The answer for `response` to the step payload `payload` (the plain answer without
    one). `now` is the moment an HTTP-date in Retry-After is counted from (the current time
    when None). Raises `CriterionError` for a criterion that cannot be evaluated,
    `ResponseTooLarge`, and `LoopAgain` (above)."""
    if payload is None:
        return response_dict(response, now=now)
    answer = _response(response)
    criteria = compile_criteria(payload.evaluate, payload.values).evaluate(answer)
    result = _plain_answer(answer, criteria, now)
    if payload.keep is not None:
        _keep(result, payload.step, answer, payload.keep, payload.values)
    if payload.loops is not None:
        result["loops"] = {key: {"iterations": counter["iterations"] + 1, "total": counter["total"] + 1} for key, counter in payload.loops.items()}
    if payload.retry_loop is not None:
        _loop_again(payload.step, payload.retry_loop, criteria, payload.attempt)
        # The loop's passes so far, for the Choice and the cause when its bound is reached.
        result["loops"] = {payload.retry_loop.key: {"iterations": payload.attempt, "total": payload.attempt}}
    return result


def _response(response: AnsweredRequest) -> Response:
    headers = {str(name).lower(): str(value) for name, value in response.headers.items()}
    # What was sent, when the answer says (the generic operation's does: arazzo_runtime.http).
    sent = response.request if isinstance(response, Response) else None
    return Response(response.status_code, headers, response.body, sent)


def _plain_answer(answer: Response, criteria: dict[str, bool], now: datetime | None) -> StepAnswer:
    return {
        "statusCode": answer.status_code,
        "headers": kept_headers(answer.headers),
        "body": answer.body,
        "retryAfterSeconds": retry_after_seconds(answer.headers, now),
        "criteria": criteria,
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


def resolve(text: str, response: Response) -> Any:
    """The value of a runtime expression about the response (`$statusCode`,
    `$response.body[#/pointer]`, `$response.header.<name>`) or about the request that got it
    (`$url`, `$method`, `$request.<source>`: `arazzo_runtime.evaluate.request_value`), or
    MISSING when it does not resolve."""
    expression = parse_expression(text)
    if expression.kind in REQUEST_KINDS:
        return request_value(expression, response.request)
    if expression.kind == "status_code":
        return response.status_code
    if expression.kind == "response_body":
        return resolve_pointer(response.body, expression.pointer)
    if expression.kind == "response_header":
        return header_value(response.headers, expression.name or "")
    raise ExpressionSyntaxError(f"{text!r} is not an expression about the response or the request")


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


def _keep(result: StepAnswer, step: str, answer: Response, keep: Keep, values: Mapping[str, ExpressionValue]) -> None:
    pointers = [parse_pointer(text) for text in keep.body]
    succeeded = all(_success_criteria(keep.success, values).evaluate(answer).values())
    kept: dict[str, Any] = {
        # A failed step keeps the whole body: the failure names the step and what the server said.
        "body": sparse_copy(answer.body, pointers) if succeeded else answer.body,
        "headers": {name: answer.headers[name] for name in (h.lower() for h in keep.headers) if name in answer.headers},
        "outputs": _resolved(keep.outputs, answer, values),
        "reads": _resolved(keep.reads, answer, values),
    }
    size = len(json.dumps(kept, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_KEPT_BYTES:
        largest = max(("body", "outputs", "reads"), key=lambda part: len(json.dumps(kept[part], separators=(",", ":"))))
        raise ResponseTooLarge(
            f"{step}: what the workflow reads of the HTTP {answer.status_code} answer is {size} bytes, "
            f"over the {MAX_KEPT_BYTES} a step may keep in Step Functions' state (most of it: {largest})"
        )
    result["body"], result["headers"], result["outputs"], result["reads"] = kept["body"], kept["headers"], kept["outputs"], kept["reads"]


def _success_criteria(success: tuple[Criterion, ...], values: Mapping[str, ExpressionValue]) -> CompiledCriteria:
    return compile_criteria({f"success.{index}": criterion for index, criterion in enumerate(success)}, values)


def _resolved(reads: Mapping[str, Read], answer: Response, values: Mapping[str, ExpressionValue]) -> dict[str, Any]:
    """Each entry resolved: an expression text (null when it does not resolve),
    `{"seconds": expression, "fallback": n}`, a wait in whole seconds (`Retry-After` read as
    HTTP says: seconds or a date), `fallback` when it does not resolve to one, or a
    selection (`selected`)."""
    resolved: dict[str, Any] = {}
    for name, entry in reads.items():
        if isinstance(entry, str):
            value = resolve(entry, answer)
        elif _is_selection(entry):
            value = selected(entry, answer, values)
        else:
            wait = cast(WaitRead, entry)  # the one other form of a read
            value = _seconds(wait["seconds"], answer, wait["fallback"])
        resolved[name] = None if value is MISSING else value
    return resolved


def _is_selection(read: Read) -> TypeGuard[SelectionRead]:
    return isinstance(read, Mapping) and "context" in read


def selected(read: SelectionRead, answer: Response, values: Mapping[str, ExpressionValue]) -> Any:
    """An Arazzo 1.1 Selector Object resolved on the answer: its selector applied to the value
    of its context (an expression about the answer, or one of `values`), then its `pointer`
    followed (`arazzo_runtime.select` says what a selector yields). MISSING when the context
    does not resolve or is not structured data (an output that does not resolve is null: a
    text answer where JSON was expected must not fail the step before its criteria and
    actions judge it), or when nothing is selected."""
    known = expression_values(values)
    context = known[read["context"]] if read["context"] in known else resolve(read["context"], answer)
    if not is_structured(context):
        return MISSING
    value = compile_selector(read["selector"], read["type"], read["version"]).select(context)
    if "pointer" in read and value is not MISSING:
        value = resolve_pointer(value, parse_pointer(read["pointer"]))
    return value


def _seconds(text: str, answer: Response, fallback: int) -> int:
    expression = parse_expression(text)
    if expression.kind == "response_header" and (expression.name or "").lower() == "retry-after":
        seconds = retry_after_seconds(answer.headers)
        return fallback if seconds is None else seconds
    value = resolve(text, answer)
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return fallback
    return math.ceil(value)


def _loop_again(step: str, loop: RetryLoop, criteria: dict[str, bool], attempt: int) -> None:
    if not all(criteria[cid] for cid in loop.holds) or any(all(criteria[cid] for cid in group) for group in loop.unless):
        return  # another action applies: the state machine's Choice routes the answer
    bounds = [bound for bound in (loop.max_iterations, loop.budget) if bound is not None]
    if bounds and attempt >= min(bounds):
        return  # the bound is reached: the Choice takes the loop's limit
    raise LoopAgain(f"{step}: the loop goes on (pass {attempt + 1})")

