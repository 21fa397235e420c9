"""A local run (or fleet) against a real Airbyte, interrupted: do what the deployed stack's
cancel-job function does for a run that stopped (cancel the reset it left running, while it is
still the connection's current job; never a sync), and say what was done and what the
destination holds now, for each connection. On AWS the stack does this by itself; a local run
has no stack to do it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airbyte_client.auth import NoAuth
from airbyte_client.client import AirbyteClient, airbyte_timestamp
from airbyte_client.config import Settings, auth_from_secret
from airbyte_client.errors import AirbyteError
from airbyte_resync.credentials import Credentials
from airbyte_resync.transitions import Transition

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RESET_STEP, SYNC_STEP = "triggerReset", "triggerResync"


@dataclass
class JobsSeen:
    """What the run did to Airbyte, from its transitions: whether it went as far as starting the
    reset, and the jobs its trigger steps answered with."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reset_entered: bool = False
    reset_job: int | None = None
    sync_entered: bool = False
    sync_job: int | None = None

    def __call__(self, transition: Transition) -> None:
        if transition.started_by is not None:  # a wait-for-job child: it starts nothing
            return
        step = transition.state.split(".")[0]
        if step == RESET_STEP:
            self.reset_entered = True
            if transition.state == RESET_STEP and isinstance(transition.job_id, int):
                self.reset_job = transition.job_id
        elif step == SYNC_STEP:
            self.sync_entered = True
            if transition.state == SYNC_STEP and isinstance(transition.job_id, int):
                self.sync_job = transition.job_id


def settle(url: str, credentials: Credentials, connection_id: str, seen: JobsSeen, client: AirbyteClient | None = None) -> str:
    """Cancel the reset the run left running, if it still is the connection's current job; the
    line that says what happened and what the destination holds. The run's transitions are read
    a moment after they happen, so what they do not show yet is asked of Airbyte: the jobs of the
    connection created since the run started. `client`: one made already (a fleet's)."""
    if seen.sync_entered:
        named = f"sync {seen.sync_job}" if seen.sync_job is not None else "the sync"
        return f"{named} was started after the reset and runs on in Airbyte: it refills the destination; watch it there"
    reset = seen.reset_job
    try:
        client = client or _client(url, credentials)
        reset, sync = _jobs_started(client, connection_id, seen)
        if reset is None:
            if not seen.reset_entered:
                return "nothing was started in Airbyte"
            return f"no reset of connection {connection_id} was found: the destination is as it was (check its jobs in Airbyte)"
        if sync is not None:
            return f"sync {sync} was started after the reset and runs on in Airbyte: it refills the destination; watch it there"
        answer = client.get_job(reset)
        status = answer.body.get("status") if isinstance(answer.body, dict) else None
        if status == "succeeded":
            return f"reset {reset} succeeded and no sync followed: the destination is EMPTY; start a sync of connection {connection_id}"
        if status in TERMINAL:
            return f"reset {reset} ended {status}: no sync was started; the destination may be partly emptied: run again"
        current = client.current_job(connection_id)
        if not current or current.get("jobId") != reset:
            now = current.get("jobId") if current else "none"
            return (f"reset {reset} ({status}) is not the connection's current job (that is {now}), so it was not cancelled; "
                    f"the destination may be empty: check connection {connection_id} in Airbyte")
        cancelled = client.cancel_job(reset)
        if cancelled.status_code != 200:
            raise AirbyteError(f"cancelJob: HTTP {cancelled.status_code}")
        return f"reset {reset} was running and has been cancelled; the destination may be partly emptied: run again"
    except (AirbyteError, OSError) as error:
        if reset is None and not seen.reset_entered:
            return (f"Airbyte could not be asked whether the run had started a reset ({error}): "
                    f"check the jobs of connection {connection_id} in Airbyte, and start a sync if a reset ran")
        job = f"reset {reset}" if reset is not None else f"a reset of connection {connection_id}"
        return (f"{job} may still be running, and the destination may be empty; it could not be cancelled ({error}): "
                "cancel it in Airbyte (DELETE /jobs/<id>) or let it finish and start a sync")


def settle_fleet(url: str, credentials: Credentials, fleet_input: Mapping[str, Any], seen: Mapping[str, JobsSeen], started_at: datetime) -> list[str]:
    """`settle` for each connection of an interrupted fleet, one line each (`<connection>:
    <what became of it>`): those whose runs it followed (`seen`, by connection id) first, then
    the ones it was given, then the others of its selection, listed again as the fleet listed
    them (a run started a moment before Ctrl-C may not have been seen yet). A connection
    without a run followed is settled from the jobs Airbyte created for it since `started_at`."""
    lines: list[str] = []
    connections = list(dict.fromkeys([*seen, *(str(item).lower() for item in fleet_input.get("connectionIds") or [])]))
    try:
        client = _client(url, credentials)
    except (AirbyteError, OSError) as error:
        return [f"Airbyte could not be asked what the fleet's runs started ({error}): check the jobs of its connections in Airbyte, "
                "cancel a reset still running and start a sync of any connection whose reset ran"]
    workspaces, tags = list(fleet_input.get("workspaceIds") or []), list(fleet_input.get("tagIds") or [])
    if workspaces or tags:
        try:
            connections += [item for item in _selected_connections(client, workspaces, tags) if item not in connections]
        except (AirbyteError, OSError) as error:
            lines.append(f"the connections of the fleet's workspaces and tags could not be listed ({error}): check the jobs of those "
                         "not named below in Airbyte, and start a sync of any whose reset ran")
    for connection in connections:
        lines.append(f"{connection}: {settle(url, credentials, connection, seen.get(connection) or JobsSeen(started_at=started_at), client)}")
    return lines


# A page of connections, as the fleet's own listing reads them.
CONNECTIONS_PAGE = 100


def _selected_connections(client: AirbyteClient, workspaces: list[str], tags: list[str]) -> list[str]:
    """The ids of the connections of these workspaces and tags, every page."""
    found: list[str] = []
    offset = 0
    while True:
        answer = client.list_connections(workspace_ids=workspaces, tag_ids=tags, limit=CONNECTIONS_PAGE, offset=offset)
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            raise AirbyteError(f"listConnections: HTTP {answer.status_code}")
        page = [item["connectionId"].lower() for item in answer.body.get("data") or []
                if isinstance(item, dict) and isinstance(item.get("connectionId"), str)]
        found += [item for item in page if item not in found]
        if len(page) < CONNECTIONS_PAGE:
            return found
        offset += CONNECTIONS_PAGE


def _client(url: str, credentials: Credentials) -> AirbyteClient:
    secret = credentials.secret_value()
    return AirbyteClient(Settings(api_url=url, auth=auth_from_secret(secret) if secret else NoAuth()))


# How many of the connection's newest jobs are looked at: a run creates two.
NEWEST_JOBS = 20


def _jobs_started(client: AirbyteClient, connection_id: str, seen: JobsSeen) -> tuple[int | None, int | None]:
    """The reset the run started (the one its transitions name, else the newest created since the
    run started) and the sync started after it, if any, from the connection's newest jobs."""
    answer = client.list_jobs(connectionId=connection_id, orderBy="createdAt|DESC", limit=NEWEST_JOBS)
    if answer.status_code != 200 or not isinstance(answer.body, dict):
        raise AirbyteError(f"listJobs: HTTP {answer.status_code}")
    jobs = [job for job in answer.body.get("data") or [] if isinstance(job, dict) and isinstance(job.get("jobId"), int)]
    reset = seen.reset_job
    if reset is None:
        since = seen.started_at.replace(microsecond=0)
        created = [job for job in jobs if (airbyte_timestamp(job.get("startTime")) or since) >= since]
        reset = next((job["jobId"] for job in created if job.get("jobType") == "reset"), None)
    if reset is None:
        return None, None
    sync = next((job["jobId"] for job in reversed(jobs) if job.get("jobType") == "sync" and job["jobId"] > reset), None)
    return reset, sync
