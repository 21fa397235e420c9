"""What a state's Retry field does after a failed attempt, read from an ASL definition: which
retrier takes the error, whether another attempt comes, and after how long. Step Functions'
rules: the first retrier whose ErrorEquals names the error (or States.ALL; States.TaskFailed
for any error but States.Timeout) takes it; each retrier counts its own retries, up to
MaxAttempts (default 3); the wait before retry n (from 1) is IntervalSeconds (default 1)
x BackoffRate (default 2.0) ^ (n - 1), at most MaxDelaySeconds; with JitterStrategy FULL
the wait is drawn between 0 and that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NextAttempt:
    attempt: int  # the number of the attempt to come, the first attempt being 1
    attempts: int  # how many attempts the retrier allows in all
    delay_seconds: float  # the wait before it (with jitter: the longest it can be)
    jittered: bool

    def describe(self) -> str:
        """`attempt 2 of 7 in 5 s`, or `... in at most 5 s` when the wait is jittered."""
        delay = f"{self.delay_seconds:g} s"
        return f"attempt {self.attempt} of {self.attempts} in {'at most ' if self.jittered else ''}{delay}"


def retrier_for(state: Mapping[str, Any], error: str) -> tuple[int, Mapping[str, Any]] | None:
    """(index, retrier) of the state's retrier that takes `error`, or None."""
    for index, retrier in enumerate(state.get("Retry") or []):
        names = retrier.get("ErrorEquals") or []
        if error in names or "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout"):
            return index, retrier
    return None


def retries_made(state: Mapping[str, Any], error: str, earlier_errors: list[str]) -> int:
    """How many retries the retrier that takes `error` has made, given the errors of the
    state's earlier failed attempts in order: each retrier counts its own."""
    found = retrier_for(state, error)
    if found is None:
        return 0
    return sum(1 for earlier in earlier_errors if (retrier_for(state, earlier) or (None,))[0] == found[0])


def next_attempt(state: Mapping[str, Any], error: str, retries_so_far: int) -> NextAttempt | None:
    """After an attempt failed with `error`, and `retries_so_far` retries of the retrier that
    takes it had already been made: the attempt that comes next, or None when none does
    (no retrier takes the error, or it has made all its retries)."""
    found = retrier_for(state, error)
    if found is None:
        return None
    _, retrier = found
    max_attempts = int(retrier.get("MaxAttempts", 3))
    if retries_so_far >= max_attempts:
        return None
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** retries_so_far
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    return NextAttempt(
        attempt=retries_so_far + 2, attempts=max_attempts + 1, delay_seconds=delay,
        jittered=retrier.get("JitterStrategy") == "FULL",
    )
