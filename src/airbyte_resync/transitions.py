"""The runs' transitions as the operator sees them: each state an execution went through, with
the Airbyte job it last saw, read from its history events (`arazzo_sfn.history`) the same way
for a local run and for one on AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arazzo_sfn import history
from arazzo_sfn.history import Event


@dataclass
class Transition(history.Transition):
    """One state the execution went through, with the Airbyte job it last saw."""

    job_id: Any = None
    job_status: Any = None


class JobTransitions:
    """Reads transitions from history events, carrying the last Airbyte job seen forward."""

    def __init__(self) -> None:
        self.last_job: tuple[Any, Any] = (None, None)

    def __call__(self, event: Event, start: datetime) -> Transition | None:
        if event["type"] == "ExecutionStarted":
            # A wait-for-job child is given its job: its polls answer with the status alone.
            try:
                job_id = json.loads(event["executionStartedEventDetails"].get("input") or "{}").get("jobId")
            except (KeyError, ValueError, AttributeError):
                job_id = None
            if job_id is not None:
                self.last_job = (job_id, None)
            return None
        transition = _transition(event, start, self.last_job)
        if transition:
            self.last_job = (transition.job_id, transition.job_status)
        return transition


def _transition(event: Event, start: datetime, last_job: tuple[Any, Any]) -> Transition | None:
    kind = event["type"]
    elapsed = (event["timestamp"] - start).total_seconds()
    if kind.endswith("StateExited"):
        details = event["stateExitedEventDetails"]
        job_id, job_status = last_job
        try:
            data = json.loads(details.get("output") or "{}")
            answer = (data.get("steps") or {}).get(details["name"], {}) if isinstance(data, dict) else {}
        except (ValueError, AttributeError):
            answer = {}
        # What the step kept of Airbyte's answer: its body's members, and its outputs.
        seen: dict[str, Any] = {}
        for part in ("body", "outputs"):
            if isinstance(answer, dict) and isinstance(answer.get(part), dict):
                seen.update(answer[part])
        if "jobId" in seen:
            job_id, job_status = seen.get("jobId"), seen.get("status")
        elif "status" in seen and job_id is not None:
            job_status = seen["status"]
        return Transition(details["name"], kind[: -len("StateExited")], elapsed, job_id, job_status)
    if kind == "FailStateEntered":
        name = event["stateEnteredEventDetails"]["name"]
        return Transition(name, "Fail", elapsed, *last_job)
    return None
