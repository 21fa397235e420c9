"""A scenario for the Airbyte stub, from a file or the command line, so that an operator can
rehearse the runbook from a terminal: which connections exist and their statuses, jobs already
running, how the next jobs of each type go, and what goes wrong with the next requests.

    connections:                      # only these exist (any other id: 404); default: any UUID, active
      9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f: active
      0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d: inactive
      7d3e5f60-1a2b-4c3d-8e4f-5a6b7c8d9e0f:   # or a mapping: every key optional
        status: active
        workspace: 2c1d0e9f-8a7b-4c6d-9e5f-4a3b2c1d0e9f   # default: the stub's one workspace
        tags: [finance, nightly]      # names; a tag's id follows from its workspace and name
        sync: [running, failed]       # this connection's next sync (reset: likewise), before any in jobs
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

from airbyte_resync.stub import (
    CONNECTION_STATUSES,
    CREATABLE_JOB_TYPES,
    JOB_STATUSES,
    OPERATION_IDS,
    WORKSPACE_ID,
    AirbyteStub,
    Fault,
)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TIMED_FAULT = re.compile(r"^(delay|slow-answer):(\d+(?:\.\d+)?)$")
FAULT_WORDS = ("ok", "disconnect", "truncated", "invalid-json", "delay:SECONDS", "slow-answer:SECONDS", "an HTTP status 400-599")


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the field."""


CONNECTION_KEYS = ("status", "workspace", "tags", "reset", "sync")


@dataclass(frozen=True)
class Connection:
    """One connection a scenario describes."""

    status: str = "active"
    workspace: str = WORKSPACE_ID
    tags: tuple[str, ...] = ()
    jobs: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)  # its own next jobs, per type


@dataclass
class Scenario:
    connections: dict[str, Connection] | None = None  # None: any UUID is an active connection
    running: list[tuple[str, str]] = field(default_factory=list)  # (connectionId, jobType)
    jobs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)

    def stub(self, **kwargs: Any) -> AirbyteStub:
        """An AirbyteStub (not started) that plays this scenario once `start_playing` ran."""
        known = None if self.connections is None else list(self.connections)
        return AirbyteStub(known_connections=known, **kwargs)

    def start_playing(self, stub: AirbyteStub) -> None:
        """On a started stub: the connections (status, workspace, tags), the jobs already
        running, then the scripts (each connection's own first) and faults (queued last, so
        that the running jobs take none of them)."""
        described = self.connections or {}
        for connection_id, connection in described.items():
            stub.add_connection(connection_id, status=connection.status, workspace_id=connection.workspace, tags=connection.tags)
        for running_id, running_type in self.running:
            stub.start_running_job(running_id, running_type)
        for connection_id, connection in described.items():
            for own_type, own_scripts in connection.jobs.items():
                for own_statuses in own_scripts:
                    stub.script(own_type, own_statuses, connection_id=connection_id)
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


def _connections(value: Any, problems: list[str]) -> dict[str, Connection] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append("connections: a mapping of connection id to status (or to {status, workspace, tags, reset, sync})")
        return None
    found = {}
    for connection_id, described in value.items():
        if not _UUID.match(str(connection_id)):
            problems.append(f"connections: {str(connection_id)[:40]!r} is not a UUID")
            continue
        connection = _connection(f"connections.{connection_id}", described, problems)
        if connection is not None:
            found[str(connection_id).lower()] = connection
    return found


def _connection(where: str, described: Any, problems: list[str]) -> Connection | None:
    """A connection written as its status, or as a mapping of what it has."""
    if not isinstance(described, dict):
        described = {"status": described}
    count = len(problems)
    unknown = sorted(set(map(str, described)) - set(CONNECTION_KEYS))
    if unknown:
        problems.append(f"{where}: {', '.join(unknown)}: unknown; expected some of {', '.join(CONNECTION_KEYS)}")
    status = described.get("status", "active")
    if status not in CONNECTION_STATUSES:
        problems.append(f"{where}: {status!r} is not a status; expected one of {', '.join(CONNECTION_STATUSES)}")
    workspace = described.get("workspace", WORKSPACE_ID)
    if not isinstance(workspace, str) or not _UUID.match(workspace):
        problems.append(f"{where}.workspace: {str(workspace)[:40]!r} is not a workspace UUID")
    tags = described.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
        problems.append(f"{where}.tags: a list of tag names (e.g. [finance, nightly])")
        tags = []
    jobs = _jobs({job_type: described[job_type] for job_type in ("reset", "sync") if job_type in described}, problems, where)
    if len(problems) > count:
        return None
    return Connection(str(status), str(workspace).lower(), tuple(tag.strip() for tag in tags), {job_type: tuple(scripts) for job_type, scripts in jobs.items()})


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


def _jobs(value: Any, problems: list[str], where: str = "jobs") -> dict[str, list[tuple[str, ...]]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: a mapping of job type to a list of status lists")
        return {}
    found: dict[str, list[tuple[str, ...]]] = {}
    for job_type, scripts in value.items():
        if job_type not in CREATABLE_JOB_TYPES:
            problems.append(f"{where}: {job_type!r} is not a job type; expected one of {', '.join(sorted(CREATABLE_JOB_TYPES))}")
            continue
        if isinstance(scripts, list) and scripts and all(isinstance(status, str) for status in scripts):
            scripts = [scripts]  # one job's statuses, written without the outer list
        if not isinstance(scripts, list) or not all(isinstance(script, list) and script for script in scripts):
            problems.append(f"{where}.{job_type}: a list of status lists, one per job (e.g. [[running, succeeded]])")
            continue
        for index, script in enumerate(scripts):
            wrong = [status for status in script if status not in JOB_STATUSES]
            if wrong:
                problems.append(f"{where}.{job_type}[{index}]: {', '.join(map(str, wrong))}: not a job status; expected some of {', '.join(JOB_STATUSES)}")
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
