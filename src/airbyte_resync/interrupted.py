"""A local run against a real Airbyte, interrupted: do what the deployed stack's cancel-job
function does for a run that stopped (cancel the reset it left running, while it is still the
connection's current job; never a sync), and say what was done and what the destination holds
now. On AWS the stack does this by itself; a local run has no stack to do it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airbyte_client.auth import NoAuth
from airbyte_client.client import AirbyteClient, airbyte_timestamp
from airbyte_client.config import Settings, auth_from_secret
from airbyte_client.errors import AirbyteError
from airbyte_resync.local import Credentials, Transition

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


def settle(url: str, credentials: Credentials, connection_id: str, seen: JobsSeen) -> str:
    """Cancel the reset the run left running, if it still is the connection's current job; the
    line that says what happened and what the destination holds."""
    if not seen.reset_entered:
        return "nothing was started in Airbyte"
    if seen.sync_entered:
        sync = f"sync {seen.sync_job}" if seen.sync_job is not None else "the sync"
        return f"{sync} was started after the reset and runs on in Airbyte: it refills the destination; watch it there"
    reset = seen.reset_job
    try:
        secret = credentials.secret_value()
        client = AirbyteClient(Settings(api_url=url, auth=auth_from_secret(secret) if secret else NoAuth()))
        if reset is None:  # interrupted while the reset was being started: did Airbyte create it?
            reset = _reset_created_since(client, connection_id, seen.started_at)
            if reset is None:
                return f"no reset of connection {connection_id} was found: the destination is as it was (check its jobs in Airbyte)"
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
        job = f"reset {reset}" if reset is not None else f"a reset of connection {connection_id}"
        return (f"{job} may still be running, and the destination may be empty; it could not be cancelled ({error}): "
                "cancel it in Airbyte (DELETE /jobs/<id>) or let it finish and start a sync")


def _reset_created_since(client: AirbyteClient, connection_id: str, since: datetime) -> int | None:
    current: dict[str, Any] | None = client.current_job(connection_id)
    if not current or current.get("jobType") != "reset" or not isinstance(current.get("jobId"), int):
        return None
    created = airbyte_timestamp(current.get("startTime"))
    return current["jobId"] if created is None or created >= since.replace(microsecond=0) else None
