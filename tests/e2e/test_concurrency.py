"""Many executions at once in one process, as a load test runs them: moto runs each on a
thread of its own, and the functions share the process (their layers' modules, Powertools'
Logger and Metrics, the client caches). Lambda runs one invocation per environment at a
time; the local engine must give the handlers the same guarantee, or log lines carry
another execution's correlation id and runs fail after Airbyte answered."""

from __future__ import annotations

import json
import uuid

from airbyte_resync.credentials import Credentials
from airbyte_resync.local import run_state_machines
from airbyte_resync.stub import AirbyteStub

# Ten runs at once already keep every thread of moto busy with another execution's states
# while a handler runs (each run makes a dozen invocations): without the one-at-a-time
# guard their log lines mix. More runs only cost time; they prove nothing ten do not.
EXECUTIONS = 10


def test_ten_concurrent_executions_each_succeed_and_log_only_their_own_jobs():
    connections = [str(uuid.uuid4()) for _ in range(EXECUTIONS)]
    with AirbyteStub(client_id="load", client_secret="load-secret") as stub:
        results = run_state_machines(
            [{"connectionId": connection, "pollIntervalSeconds": 0} for connection in connections],
            stub.url, Credentials(client_id="load", client_secret="load-secret"), timeout_seconds=300,
        )
        jobs = stub.jobs

    assert [result.status for result in results] == ["SUCCEEDED"] * EXECUTIONS, [r.cause for r in results if r.status != "SUCCEEDED"]
    # Every connection was reset once and synced once, by its own execution.
    execution_of_job = {}
    for connection, result in zip(connections, results, strict=False):
        own = sorted(job["jobType"] for job in jobs.values() if job["connectionId"] == connection)
        assert own == ["reset", "sync"], (connection, own)
        for job_id in (result.output["resetJobId"], result.output["resyncJobId"]):
            assert jobs[job_id]["connectionId"] == connection
            execution_of_job[job_id] = result.execution_arn

    # Each log line naming a job was written by an invocation of the execution that owns it:
    # the run itself (its triggers), or a wait-for-job child it started (its polls), which
    # watches one job only.
    lines = [json.loads(line) for line in results[0].function_logs.splitlines() if line.startswith("{")]
    answered = [line for line in lines if line.get("message") == "Airbyte answered" and line.get("jobId") is not None]
    assert len(answered) >= 4 * EXECUTIONS  # a reset, its poll, a sync, its poll
    jobs_of_child: dict[str, set] = {}
    for line in answered:
        if ":WaitForJob:" in line["correlation_id"]:
            jobs_of_child.setdefault(line["correlation_id"], set()).add(line["jobId"])
        else:
            assert line["correlation_id"] == execution_of_job[line["jobId"]], line
    assert len(jobs_of_child) == 2 * EXECUTIONS and all(len(jobs) == 1 for jobs in jobs_of_child.values())
