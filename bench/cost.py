"""What one reset-and-resync costs, for a short reset and syncs of 1 minute, 1 hour, 1 day,
7 days and 30 days: state transitions and history events of the root execution and of its
wait-for-job children, Lambda invocations, Airbyte requests (tokens included), the largest
delay between a job ending and the run noticing it, and the price at list prices; side by
side with a fixed 30-second Task → Choice → Wait loop and with the layout before the
wait-for-job child (the reset polled in the root, the sync started and never watched).
Then the size of the layers and of each function's bundle, and each handler's cold import
time against a bare interpreter.

The figures of this layout are exact, not sampled: the committed state machines run in moto
against the stub, on a virtual clock (Wait states and backoffs move it on at once), so a
30-day sync takes a few minutes. The comparisons come from the same runs: a fit of their
counts to a fixed part, a part per read and a part per child execution (printed, and checked
to reproduce every run exactly). Prints figures; asserts nothing about speed."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airbyte_client import auth  # noqa: E402
from airbyte_resync.credentials import Credentials  # noqa: E402
from airbyte_resync.local import run_state_machine  # noqa: E402
from airbyte_resync.stub import AirbyteStub  # noqa: E402
from tests.e2e.conftest import VirtualClock  # noqa: E402

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
HISTORY_LIMIT = 25_000
RESET_SECONDS = 60
SYNCS = (("1 minute", 60), ("1 hour", 3600), ("1 day", 86_400), ("7 days", 7 * 86_400), ("30 days", 30 * 86_400))
# The layers: the toolkit's runtime, then the Airbyte client's; every Airbyte function has both.

# List prices (US East (N. Virginia), December 2026), without free tiers.
PRICE_PER_TRANSITION = 0.025 / 1000  # Step Functions standard workflows
PRICE_PER_INVOCATION = 0.20 / 1_000_000  # Lambda requests
PRICE_PER_GB_SECOND = 0.0000133334  # Lambda duration, arm64 (the template's architecture)
MEMORY_GB = 256 / 1024  # the template's MemorySize
BILLED_SECONDS = 0.2  # assumed per invocation: one HTTPS request to Airbyte, warm

# The layout before the wait-for-job child, as this benchmark measured it then: a fixed part,
# then the cost of each further read of the reset job (folded loop: Task, Choice, Wait).
# It started the sync and ended: the sync was never read.
EARLIER = {"first_read": {"events": 31, "transitions": 10, "invocations": 3, "requests": 4},
           "per_read": {"events": 9, "transitions": 3, "invocations": 1, "requests": 1}}


@dataclass
class Run:
    sync_seconds: int
    root_events: int
    root_transitions: int
    child_events: list[int]
    child_transitions: list[int]
    invocations: int
    requests: int
    tokens: int
    reads: int  # of both jobs
    noticed_after: float  # seconds between the sync's end and the read that saw it
    longest_wait: float  # the wait the sync's end fell into: the delay's bound for a job this long

    @property
    def transitions(self) -> int:
        return self.root_transitions + sum(self.child_transitions)

    @property
    def price(self) -> float:
        return price(self.transitions, self.invocations)


def price(transitions: float, invocations: float) -> float:
    return transitions * PRICE_PER_TRANSITION + invocations * (PRICE_PER_INVOCATION + PRICE_PER_GB_SECOND * MEMORY_GB * BILLED_SECONDS)


def transitions_of(history: list[dict]) -> int:
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def measure(sync_seconds: int) -> Run:
    """One run of the committed application: a reset of a minute, then a sync of `sync_seconds`."""
    clock = VirtualClock()
    # The client renews its token by the same clock (15 minutes, less its margin), as a warm
    # function would over days; a cold one asks for a token at once, so more tokens are possible.
    auth.time = SimpleNamespace(monotonic=lambda: clock.now.timestamp())
    with AirbyteStub(client_id="bench", client_secret="bench-secret", clock=clock) as stub:
        stub.script_timed("reset", [("running", RESET_SECONDS), ("succeeded", 0)])
        stub.script_timed("sync", [("running", sync_seconds), ("succeeded", 0)])
        result = run_state_machine(
            {"connectionId": CONNECTION_ID}, stub.url, Credentials(client_id="bench", client_secret="bench-secret"),
            wait_sleep=clock.sleep, retry_sleep=clock.sleep, timeout_seconds=3600,
        )
        assert result.status == "SUCCEEDED", result.cause
        calls = stub.calls
        sync = next(job for job in stub.jobs.values() if job["jobType"] == "sync")
    ended = datetime.fromisoformat(sync["startTime"].replace("Z", "+00:00")).timestamp() + sync_seconds
    histories = [result.history, *result.child_histories]
    return Run(
        sync_seconds=sync_seconds,
        root_events=len(result.history),
        root_transitions=transitions_of(result.history),
        child_events=[len(history) for history in result.child_histories],
        child_transitions=[transitions_of(history) for history in result.child_histories],
        invocations=sum(1 for history in histories for event in history if event["type"] == "TaskScheduled"
                        and event["taskScheduledEventDetails"]["resourceType"] == "lambda"),
        requests=len(calls),
        tokens=sum(1 for call in calls if call.operation_id == "createAccessToken"),
        reads=sum(1 for call in calls if call.operation_id == "getJob"),
        noticed_after=clock.now.timestamp() - ended,
        longest_wait=max(clock.waits[-3:]),
    )


def child_bound() -> int:
    """The most reads one wait-for-job child makes: its loop's bound in the committed ASL, + 1."""
    route = json.loads((ROOT / "statemachine" / "wait_for_job.asl.json").read_text())["States"]["pollJob.Route"]
    bounds = [int(number) for number in re.findall(r'"NumericGreaterThan": (\d+)', json.dumps(route))]
    return max(bounds) + 1


def age_after(reads: int) -> float:
    """A job's age at its `reads`-th read, at this layout's waits."""
    age = 0.0
    for _ in range(reads - 1):
        age += adaptive_wait(age)
    return age


def solve(rows: list[list[Fraction]], values: list[Fraction]) -> list[Fraction]:
    """The least-squares solution of rows · x = values, exactly (normal equations, Gauss)."""
    size = len(rows[0])
    matrix = [[sum(row[i] * row[j] for row in rows) for j in range(size)] + [sum(row[i] * value for row, value in zip(rows, values, strict=False))]
              for i in range(size)]
    for column in range(size):
        pivot = next(index for index in range(column, size) if matrix[index][column] != 0)
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        for index in range(size):
            if index != column and matrix[index][column] != 0:
                factor = matrix[index][column] / matrix[column][column]
                matrix[index] = [a - factor * b for a, b in zip(matrix[index], matrix[column], strict=False)]
    return [matrix[index][size] / matrix[index][index] for index in range(size)]


def fit(runs: list[Run]) -> dict[str, tuple[float, float, float]]:
    """Each figure as fixed + per read × reads + per child × children, solved from the runs
    and checked to reproduce every one of them exactly."""
    figures = {
        "events": lambda run: run.root_events + sum(run.child_events),
        "transitions": lambda run: run.transitions,
        "invocations": lambda run: run.invocations,
        "requests besides tokens": lambda run: run.requests - run.tokens,
    }
    rows = [[Fraction(1), Fraction(run.reads), Fraction(len(run.child_events))] for run in runs]
    model = {}
    for name, figure in figures.items():
        values = [Fraction(figure(run)) for run in runs]
        solution = solve(rows, values)
        reproduced = [sum(a * b for a, b in zip(row, solution, strict=False)) for row in rows]
        if reproduced != values:
            print(f"  note: {name} is not exactly linear in reads and children: {[float(v) for v in reproduced]} for {[float(v) for v in values]}")
        model[name] = tuple(float(value) for value in solution)
    return model


def reads_for(job_seconds: int, wait) -> int:
    """How many reads a job of `job_seconds` takes when each wait is `wait(age)`."""
    age, reads = 0.0, 1
    while age < job_seconds:
        age += wait(age)
        reads += 1
    return reads


def adaptive_wait(age: float) -> float:
    return max(5, min(int(age * 0.1), 300))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the 7- and 30-day syncs (they take minutes)")
    arguments = parser.parse_args()
    syncs = SYNCS[:3] if arguments.quick else SYNCS
    runs = []
    print(f"A reset of {RESET_SECONDS} s, then a sync of each length, run in moto on a virtual clock (exact counts):")
    print(f"  {'sync':<9} {'reads':>6} {'root events':>12} {'children':>9} {'child events (largest)':>23} "
          f"{'transitions':>12} {'invocations':>12} {'requests (tokens)':>18} {'noticed after':>14} {'price':>9}")
    for label, seconds in syncs:
        started = time.perf_counter()
        run = measure(seconds)
        runs.append(run)
        print(f"  {label:<9} {run.reads:>6} {run.root_events:>12} {len(run.child_events):>9} "
              f"{sum(run.child_events):>14} ({max(run.child_events):>6}) {run.transitions:>12} {run.invocations:>12} "
              f"{run.requests:>11} ({run.tokens:>3}) {run.longest_wait:>12.0f} s ${run.price:>8.5f}"
              f"   [{time.perf_counter() - started:.0f} s here]")
    print(f"  (noticed after: the wait the sync's end fell into, the longest it can go unseen for a job that long;"
          f" price: ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 transitions,"
          f" ${PRICE_PER_INVOCATION * 1e6:.2f} per million invocations and {BILLED_SECONDS * 1000:.0f} ms of"
          f" {MEMORY_GB * 1024:.0f} MB arm64 each)")
    assert all(max(run.child_events) < HISTORY_LIMIT and run.root_events < HISTORY_LIMIT for run in runs)

    model = fit(runs) if len({len(run.child_events) for run in runs}) > 1 else None
    if model is None:
        print("\n(The side-by-side figures need a run that uses more than one child per job: leave out --quick.)")
    else:
        print("\nThe same counts as fixed + per read × reads + per child execution × children (reproduces every run;")
        print("tokens follow the clock instead: one per 14 minutes of a warm function):")
        for name, (fixed, per_read, per_child) in model.items():
            print(f"  {name:<24} {fixed:>6g} + {per_read:g} per read + {per_child:g} per child")
        reads_per_child = child_bound()
        print("\nSide by side (reads of both jobs; price of one run):")
        print(f"  {'sync':<9} {'this layout':>22} {'fixed 30 s loop':>26} {'the earlier layout':>34}")
        for (label, seconds), run in zip(syncs, runs, strict=False):
            fixed_reads = reads_for(RESET_SECONDS, lambda age: 30) + reads_for(seconds, lambda age: 30)
            children = -(-reads_for(RESET_SECONDS, lambda age: 30) // reads_per_child) + -(-reads_for(seconds, lambda age: 30) // reads_per_child)
            fixed_transitions = sum(value * factor for value, factor in zip(model["transitions"], (1, fixed_reads, children), strict=False))
            fixed_invocations = sum(value * factor for value, factor in zip(model["invocations"], (1, fixed_reads, children), strict=False))
            earlier_reads = reads_for(RESET_SECONDS, adaptive_wait) - 1
            earlier = {key: EARLIER["first_read"][key] + EARLIER["per_read"][key] * earlier_reads for key in EARLIER["first_read"]}
            print(f"  {label:<9} {run.reads:>5} reads ${run.price:>9.5f}   {fixed_reads:>6} reads ${price(fixed_transitions, fixed_invocations):>9.5f}"
                  f"   {earlier_reads + 1:>3} reads ${price(earlier['transitions'], earlier['invocations']):>8.5f}, sync never read")
        print("  The fixed loop notices a job's end within 30 s, at the price above; the earlier layout ended")
        print("  SUCCEEDED as soon as the sync had started, whatever became of it, and polled in the root's")
        print(f"  one history: {reads_per_child} reads at most, about {age_after(reads_per_child) / 86400:.1f} days of a job"
              " at this layout's waits.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
