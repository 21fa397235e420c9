"""What one reset-and-resync costs: state transitions, history events, Lambda invocations
and Airbyte requests for reset jobs of 1 minute, 1 hour, 1 day and 7 days; the size of the
layers (their code and every distribution their requirements pull in) and of each
function's deployment bundle (its code + the layers); and each handler's cold import time
against a bare interpreter.

The per-execution figures are exact, not sampled: the committed state machine runs in moto
against the stub for a few poll counts, which gives the fixed cost and the cost of one more
poll (checked to be linear), and the schedule gives the poll count for each job length.
Prints figures; asserts nothing about speed."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airbyte_resync.bundle import layer_distributions  # noqa: E402
from airbyte_resync.local import Credentials, run_state_machine  # noqa: E402
from airbyte_resync.stub import AirbyteStub  # noqa: E402
from airbyte_client.client import LONGEST_POLL_SECONDS, POLL_AGE_FRACTION, next_poll_seconds  # noqa: E402
from arazzo_sfn.lower import loop_iteration_cap  # noqa: E402

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
HISTORY_LIMIT = 25_000
WORKFLOW = ROOT / "workflows" / "airbyte-reset-and-resync.arazzo.yaml"
# The toolkit's runtime layer, then the Airbyte client's; every Airbyte function has both.
LAYERS = [ROOT / "layers" / "arazzo_runtime", ROOT / "layers" / "airbyte_client"]
TRANSITION_EVENTS = ("StateEntered",)  # one state transition per state entered


def measure(polls: int) -> dict:
    """Run once with a reset job that needs `polls` reads; count what it cost."""
    with AirbyteStub(client_id="bench", client_secret="bench-secret") as stub:
        stub.script("reset", ["pending"] + ["running"] * (polls - 1) + ["succeeded"])
        result = run_state_machine(
            {"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0, "maxPolls": 2000},
            stub.url, Credentials(client_id="bench", client_secret="bench-secret"), timeout_seconds=600,
        )
        assert result.status == "SUCCEEDED", result.cause
        calls = stub.calls
    history = result.history
    return {
        "events": len(history),
        "transitions": sum(1 for e in history if e["type"].endswith("StateEntered")),
        "invocations": sum(1 for e in history if e["type"] == "TaskScheduled"),
        "requests": len(calls),
        "token requests": sum(1 for c in calls if c.operation_id == "createAccessToken"),
    }


def cost_model() -> tuple[dict, dict]:
    one, three, ten = measure(1), measure(3), measure(10)
    per_poll = {key: (three[key] - one[key]) / 2 for key in one}
    for key in one:  # the cost is linear in the number of polls
        assert ten[key] == one[key] + 9 * per_poll[key], (key, one, three, ten)
    fixed = {key: one[key] - per_poll[key] for key in one}
    return fixed, per_poll


def fixed_schedule(job_seconds: int, interval: int) -> tuple[int, int]:
    """Reads of the reset job with a fixed interval: (reads, the longest the end of the job can
    go unseen: the wait that spans it)."""
    reads = math.ceil(job_seconds / interval) + 1  # the first read, then one per interval
    return reads, interval


def adaptive_schedule(job_seconds: int, shortest: int) -> tuple[int, int]:
    """The same with the poll function's proposals (a tenth of the job's age, within bounds)."""
    age, reads, wait = 0, 1, 0
    while age < job_seconds:
        wait = max(next_poll_seconds(age, shortest), 1)  # a 0 s wait still takes the read's time
        age += wait
        reads += 1
    return reads, wait


def distribution_bytes(name: str) -> int:
    """Bytes of an installed distribution's files as its wheel ships them: the bytecode pip
    compiled here and the scripts it wrote outside site-packages are left out, as a layer
    build (which unpacks the wheels) has neither."""
    files = metadata.distribution(name).files or []
    return sum(
        file.locate().stat().st_size
        for file in files
        if "__pycache__" not in file.parts and file.parts[0] != ".." and file.locate().exists()
    )


def source_bytes(directory: Path, leave_out: tuple[Path, ...] = ()) -> int:
    """Bytes of the files under `directory` a build copies (bytecode caches are not)."""
    return sum(
        path.stat().st_size
        for path in directory.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" and path not in leave_out
    )


def bundle_sizes() -> tuple[list[str], dict[str, int], dict[str, int]]:
    """(the distributions the layers install, each layer's bytes, the bytes each function
    deploys: its own code plus the layers). A layer is its own code and the distributions its
    requirements.txt pulls in, sized as installed here (this platform's wheels)."""
    distributions: list[str] = []
    layers: dict[str, int] = {}
    for layer in LAYERS:
        requirements = layer / "requirements.txt"
        own = [name for name in layer_distributions(requirements) if name not in distributions]
        distributions += own
        layers[layer.name] = sum(distribution_bytes(name) for name in own) + source_bytes(layer, leave_out=(requirements,))
    total = sum(layers.values())
    functions = {function.name: source_bytes(function) + total for function in sorted((ROOT / "functions").iterdir())}
    return distributions, layers, functions


def import_times(repeats: int = 5) -> dict[str, float]:
    """Median cold import time of each handler, as a ratio to a bare interpreter start."""
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
           "AWS_DEFAULT_REGION": "us-east-1"}

    def median_run(code: str, cwd: Path | None = None) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
            times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2]

    bare = median_run("pass")
    return {
        function.name: median_run("import app", cwd=function) / bare
        for function in sorted((ROOT / "functions").iterdir())
    }


def main() -> int:
    fixed, per_poll = cost_model()
    print("Per execution, from the committed state machine run in moto (exact counts):")
    print(f"  fixed part: {json.dumps(fixed)}")
    print(f"  each further read of the reset job: {json.dumps(per_poll)}")
    cap = loop_iteration_cap(1, "folded")
    print(f"\nHistory limit {HISTORY_LIMIT} events; the loop's cap is {cap} re-reads.")
    print(f"Adaptive polling (the default: wait {POLL_AGE_FRACTION:.0%} of the job's age, 5 s to {LONGEST_POLL_SECONDS} s) against a fixed 30 s loop:")
    print(f"  {'reset job':<9} {'policy':<9} {'reads':>6} {'transitions':>12} {'events':>8} {'invocations':>12} {'requests':>9} {'unseen':>9}  outcome")
    for label, seconds in (("1 minute", 60), ("1 hour", 3600), ("1 day", 86_400), ("7 days", 604_800)):
        for policy, (reads, delay) in (("adaptive", adaptive_schedule(seconds, 5)), ("fixed 30s", fixed_schedule(seconds, 30))):
            row = {key: int(fixed[key] + per_poll[key] * reads) for key in fixed}
            fits = reads - 1 <= cap and row["events"] < HISTORY_LIMIT
            outcome = "finishes" if fits else "cannot finish: over the history budget"
            bound = min(POLL_AGE_FRACTION * seconds, LONGEST_POLL_SECONDS)
            within = "" if policy != "adaptive" else (" (within 10% and 5 min)" if delay <= max(bound, 5) else " (OVER THE BOUND)")
            print(f"  {label:<9} {policy:<9} {reads:>6} {row['transitions']:>12} {row['events']:>8} {row['invocations']:>12} {row['requests']:>9} {delay:>7} s  {outcome}{within}")
    distributions, layers, functions = bundle_sizes()
    print("\nDeployment bundle: the layers (their code and the distributions they install), then each")
    print("function (its code + the layers):")
    print(f"  layer distributions ({len(distributions)}): {', '.join(distributions)}")
    for name, size in layers.items():
        print(f"  {name:<16} {size / 1_048_576:6.2f} MiB")
    for name, size in functions.items():
        print(f"  {name:<16} {size / 1_048_576:6.2f} MiB")
    print("\nCold import of each handler, as a multiple of a bare interpreter start:")
    for name, ratio in import_times().items():
        print(f"  {name:<16} {ratio:5.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
