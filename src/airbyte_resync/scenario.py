"""A scenario for the Airbyte stub, from a file or the command line, so that an operator can
rehearse the runbook from a terminal: which connections exist and their statuses, jobs already
running, how the next jobs of each type go, and what goes wrong with the next requests.

    connections:                      # only these exist (any other id: 404); default: any UUID, active
      9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f: active
      0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d: inactive
    running:                          # jobs running when the stub starts (a sync Airbyte scheduled)
      - {connectionId: 9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f, jobType: sync}
    jobs:                             # per job type, each next job's statuses, one step per poll
      reset: [[pending, running, succeeded]]
      sync: [[running, incomplete, running, failed]]
    faults:                           # per operation, what its next requests get, in order
      createJob: [ok, 403]            # ok: answered normally
      getJob: [503, disconnect, "delay:30", "slow-answer:60", truncated, invalid-json]

Every problem is reported with the field it is in, before the stub starts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airbyte_resync.stub import CONNECTION_STATUSES, CREATABLE_JOB_TYPES, JOB_STATUSES, OPERATION_IDS, AirbyteStub, Fault

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TIMED_FAULT = re.compile(r"^(delay|slow-answer):(\d+(?:\.\d+)?)$")
FAULT_WORDS = ("ok", "disconnect", "truncated", "invalid-json", "delay:SECONDS", "slow-answer:SECONDS", "an HTTP status 400-599")


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the field."""


@dataclass
class Scenario:
    connections: dict[str, str] | None = None  # None: any UUID is an active connection
    running: list[tuple[str, str]] = field(default_factory=list)  # (connectionId, jobType)
    jobs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)

    def stub(self, **kwargs: Any) -> AirbyteStub:
        """An AirbyteStub (not started) that plays this scenario once `start_playing` ran."""
        known = None if self.connections is None else list(self.connections)
        return AirbyteStub(known_connections=known, **kwargs)

    def start_playing(self, stub: AirbyteStub) -> None:
        """On a started stub: statuses, the jobs already running, then the scripts and faults
        (queued last, so that the running jobs take none of them)."""
        for connection, status in (self.connections or {}).items():
            stub.set_connection_status(connection, status)
        for connection, job_type in self.running:
            stub.start_running_job(connection, job_type)
        for job_type, scripts in self.jobs.items():
            for statuses in scripts:
                stub.script(job_type, statuses)
        for operation, faults in self.faults.items():
            stub.inject(operation, *faults)


def load(path: Path) -> dict[str, Any]:
    """The scenario document in a YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {str(error).splitlines()[0]}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with connections, running, jobs and faults")
    return document


def parse(document: Mapping[str, Any], where: str = "scenario") -> Scenario:
    """The scenario a document describes; every problem at once, each naming its field."""
    problems: list[str] = []
    unknown = sorted(set(document) - {"connections", "running", "jobs", "faults"})
    if unknown:
        problems.append(f"{', '.join(unknown)}: unknown; expected connections, running, jobs, faults")
    scenario = Scenario(
        connections=_connections(document.get("connections"), problems),
        running=_running(document.get("running"), problems),
        jobs=_jobs(document.get("jobs"), problems),
        faults=_faults(document.get("faults"), problems),
    )
    if scenario.connections is not None:
        for connection, _ in scenario.running:
            if connection not in scenario.connections:
                problems.append(f"running: {connection} is not one of the scenario's connections")
    if problems:
        raise ScenarioError(f"{where}: " + "; ".join(problems))
    return scenario


def fault(value: Any) -> Fault:
    """One fault as written in a scenario: a word, a timed word, or an HTTP status."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 400 <= value <= 599:
            raise ValueError(f"{value} is not an HTTP error status (400-599)")
        return Fault.status(value)
    text = str(value).strip().lower()
    if text.isdigit():
        return fault(int(text))
    if text == "ok":
        return Fault.delay(0)
    if text == "disconnect":
        return Fault.disconnect()
    if text == "truncated":
        return Fault.truncated()
    if text == "invalid-json":
        return Fault.invalid_json()
    timed = _TIMED_FAULT.match(text)
    if timed:
        seconds = float(timed.group(2))
        return Fault.delay(seconds) if timed.group(1) == "delay" else Fault.slow_answer(seconds)
    raise ValueError(f"{str(value)[:40]!r} is not a fault; expected one of: {', '.join(FAULT_WORDS)}")


def _connections(value: Any, problems: list[str]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append("connections: a mapping of connection id to status")
        return None
    found = {}
    for connection, status in value.items():
        if not _UUID.match(str(connection)):
            problems.append(f"connections: {str(connection)[:40]!r} is not a UUID")
        elif status not in CONNECTION_STATUSES:
            problems.append(f"connections.{connection}: {status!r} is not a status; expected one of {', '.join(CONNECTION_STATUSES)}")
        else:
            found[str(connection).lower()] = status
    return found


def _running(value: Any, problems: list[str]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append("running: a list of {connectionId, jobType}")
        return []
    found = []
    for index, item in enumerate(value):
        connection = item.get("connectionId") if isinstance(item, dict) else None
        job_type = item.get("jobType", "sync") if isinstance(item, dict) else None
        if not isinstance(connection, str) or not _UUID.match(connection):
            problems.append(f"running[{index}].connectionId: a connection UUID is needed")
        elif job_type not in CREATABLE_JOB_TYPES:
            problems.append(f"running[{index}].jobType: {job_type!r}; expected one of {', '.join(sorted(CREATABLE_JOB_TYPES))}")
        else:
            found.append((connection.lower(), str(job_type)))
    return found


def _jobs(value: Any, problems: list[str]) -> dict[str, list[tuple[str, ...]]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("jobs: a mapping of job type to a list of status lists")
        return {}
    found: dict[str, list[tuple[str, ...]]] = {}
    for job_type, scripts in value.items():
        if job_type not in CREATABLE_JOB_TYPES:
            problems.append(f"jobs: {job_type!r} is not a job type; expected one of {', '.join(sorted(CREATABLE_JOB_TYPES))}")
            continue
        if isinstance(scripts, list) and scripts and all(isinstance(status, str) for status in scripts):
            scripts = [scripts]  # one job's statuses, written without the outer list
        if not isinstance(scripts, list) or not all(isinstance(script, list) and script for script in scripts):
            problems.append(f"jobs.{job_type}: a list of status lists, one per job (e.g. [[running, succeeded]])")
            continue
        for index, script in enumerate(scripts):
            wrong = [status for status in script if status not in JOB_STATUSES]
            if wrong:
                problems.append(f"jobs.{job_type}[{index}]: {', '.join(map(str, wrong))}: not a job status; expected some of {', '.join(JOB_STATUSES)}")
        found[job_type] = [tuple(script) for script in scripts]
    return found


def _faults(value: Any, problems: list[str]) -> dict[str, list[Fault]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("faults: a mapping of operation to a list of faults")
        return {}
    found: dict[str, list[Fault]] = {}
    for operation, faults in value.items():
        if operation not in OPERATION_IDS:
            problems.append(f"faults: {operation!r} is not an operation; expected one of {', '.join(OPERATION_IDS)}")
            continue
        listed = faults if isinstance(faults, list) else [faults]
        parsed = []
        for index, item in enumerate(listed):
            try:
                parsed.append(fault(item))
            except ValueError as error:
                problems.append(f"faults.{operation}[{index}]: {error}")
        found[operation] = parsed
    return found
