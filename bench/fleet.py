"""What a fleet costs and how long it takes: 10, 100 and 400 connections (the most one fleet
execution runs) and 1,000 (three fleets, split by workspace or tag), for a reset of a minute
and syncs of 10 minutes and of an hour, with maxConcurrent 5 and 20.

Measured, exactly, in moto on a virtual clock: one connection's run (its execution and its
wait-for-job children: transitions, history events, invocations, Airbyte requests; as
bench/cost.py measures it) and a fleet's own execution (a fleet of 3: its states do not grow
with the number of connections, which run inside its one Map state). Counted from the
committed ASL: the states each Distributed Map item passes (it runs as an execution of the
fleet's state machine, billed like any other). The rest is arithmetic, printed with it: the
listing reads 100 connections a request; the items share one DynamoDB item (a consistent read
and an update each); connections run in waves of maxConcurrent. Prints figures; asserts
nothing about speed."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cost import PRICE_PER_TRANSITION, Run, measure, price, transitions_of  # noqa: E402

from airbyte_resync.credentials import Credentials  # noqa: E402
from airbyte_resync.local import FLEET_MACHINE, run_state_machine  # noqa: E402
from airbyte_resync.stub import AirbyteStub  # noqa: E402
from tests.e2e.conftest import JOBS_NEVER_END_BY_THEMSELVES, VirtualClock  # noqa: E402
from tests.support.fleet import fleet  # noqa: E402

FLEETS = (10, 100, 400, 1000)
MOST_PER_FLEET = 400  # functions/list_connections/app.py MAX_CONNECTIONS
SYNCS = (("10 minutes", 600), ("1 hour", 3600))
CONCURRENCY = (5, 20)
RESET_SECONDS = 60
PAGE = 100
# DynamoDB on demand (US East, December 2026): per million requests.
PRICE_PER_READ = 0.25 / 1_000_000
PRICE_PER_WRITE = 1.25 / 1_000_000


def fleet_execution() -> tuple[int, int]:
    """The fleet's own execution, for 3 connections: (transitions, history events)."""
    three = fleet(3, workspaces=1, not_active_every=100)
    clock = VirtualClock()
    with AirbyteStub(client_id="bench", client_secret="bench-secret", clock=clock, finish_after=JOBS_NEVER_END_BY_THEMSELVES) as stub:
        three.play_on(stub)
        result = run_state_machine({"workspaceIds": list(three.workspaces), "pollIntervalSeconds": 0}, stub.url,
                                   Credentials(client_id="bench", client_secret="bench-secret"), machine=FLEET_MACHINE,
                                   wait_sleep=clock.sleep, retry_sleep=clock.sleep, timeout_seconds=3600)
    assert result.status == "SUCCEEDED", result.cause
    return transitions_of(result.history), len(result.history)


def item_states() -> int:
    """The states a Distributed Map item passes when its connection's run succeeds: read from
    the committed ASL (look at the counts, decide, run, its result, record it)."""
    machine = json.loads((ROOT / "statemachine" / "reset_and_resync_fleet.asl.json").read_text())
    (mapped,) = [state for state in machine["States"].values() if state["Type"] == "Map"]
    states = mapped["ItemProcessor"]["States"]
    name, passed = mapped["ItemProcessor"]["StartAt"], 0
    while name:
        passed += 1
        state = states[name]
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return passed


def main() -> int:
    print(f"One connection's run (a reset of {RESET_SECONDS} s, then the sync), measured in moto on a virtual clock:")
    runs: dict[str, Run] = {}
    for label, seconds in SYNCS:
        runs[label] = run = measure(seconds)
        print(f"  sync {label:<10} {run.transitions:>5} transitions, {run.root_events + sum(run.child_events):>5} history events, "
              f"{run.invocations:>4} invocations, {run.requests:>4} Airbyte requests, ${run.price:.5f}")
    fleet_transitions, fleet_events = fleet_execution()
    per_item = item_states()
    print(f"The fleet's own execution: {fleet_transitions} transitions, {fleet_events} history events, whatever its size;"
          f" each item: {per_item} transitions (an execution of the fleet's state machine), 1 consistent read, 1 update.")
    print(f"\nA fleet (at most {MOST_PER_FLEET} connections each; more are split into several), every connection active:")
    print(f"  {'connections':>11} {'sync':<10} {'fleets':>6} {'transitions':>12} {'history events':>15} {'invocations':>12} "
          f"{'requests':>9} {'price':>9}   {'takes, maxConcurrent 5':>23} {'20':>10}")
    for size in FLEETS:
        fleets = math.ceil(size / MOST_PER_FLEET)
        for label, seconds in SYNCS:
            run = runs[label]
            transitions = fleets * fleet_transitions + size * (per_item + run.transitions)
            events = fleets * fleet_events + size * (run.root_events + sum(run.child_events))
            invocations = fleets + size * run.invocations  # one listing per fleet
            pages = sum(math.ceil(min(MOST_PER_FLEET, size - index * MOST_PER_FLEET) / PAGE) for index in range(fleets))
            requests = fleets + pages + size * (run.requests - run.tokens)  # a token per listing
            total = price(transitions, invocations) + size * PRICE_PER_READ + (size + 2 * fleets) * PRICE_PER_WRITE
            # Waves of maxConcurrent: each connection's reset, then its sync; fleets run side by side.
            each = RESET_SECONDS + seconds
            takes = [math.ceil(min(size, MOST_PER_FLEET) / concurrency) * each for concurrency in CONCURRENCY]
            print(f"  {size:>11} {label:<10} {fleets:>6} {transitions:>12,} {events:>15,} {invocations:>12,} {requests:>9,} ${total:>8.3f}"
                  f"   {hours(takes[0]):>23} {hours(takes[1]):>10}")
    print(f"  (price: ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 transitions, Lambda as in bench/cost.py, DynamoDB on demand;"
          " takes: jobs that run as long as given, back to back in waves, each noticed at once; Airbyte's own")
    print("   workers may hold a wave back: a self-managed Airbyte with fewer sync workers than maxConcurrent queues the rest;")
    print("   several fleets started together run side by side, so 1,000 connections in 3 fleets run up to 3 x maxConcurrent at once)")
    return 0


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    sys.exit(main())
