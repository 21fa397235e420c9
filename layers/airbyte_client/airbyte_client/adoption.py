"""Creating a job once per run, and saying honestly whose job the run then watches.

A create request that went out may have created the job even when its answer never came
back (a read timeout, an answer cut off or unreadable, a connection dropped, a 502 or 504,
or the function's own answer lost between Lambda and Step Functions). Its retry must not
create a second one: it looks for a job of that type created after the newest one the run
had seen (`adopt_above`; Airbyte's ids only grow) and takes it as the run's own. The retry
knows an earlier attempt may have created one because each attempt writes that down before
it sends, and takes it back when the request certainly changed nothing.

A failure that certainly changed nothing (a refusal such as 409 try-again-later, 429 or 503,
a connection refused) created nothing. A sync found after such a failure was started by Airbyte (its scheduler,
the moment the reset ended; or someone in its UI): the run may watch it, since it refills
the destination just as well, but says so (`X-Job-Started-By: airbyte`), and logs it. A reset
found that way is not the run's and is not taken: the run creates its own.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

from airbyte_client.claims import aws_client
from airbyte_client.client import AirbyteClient, ApiResponse
from airbyte_client.errors import InvalidAirbyteResponse, TransientAirbyteError

STARTED_BY_HEADER = "x-job-started-by"
STARTED_BY_THIS_RUN = "this-run"
STARTED_BY_AIRBYTE = "airbyte"
# A note outlives every retry of a step (the longest retry window is some 4.5 hours).
NOTE_LIFETIME_SECONDS = 2 * 24 * 3600
# Without a table (a test in one process), the notes are kept here.
_notes_in_memory: set[str] = set()


def create_job_for_run(client: AirbyteClient, connection_id: str, job_type: str, *, execution: str | None, step: str,
                       retry: bool, adopt_above: int | None, log: Any = None) -> ApiResponse:
    """Create the step's job, or, on a retry, take the one an earlier attempt created (only
    after a lost answer) or the sync Airbyte started meanwhile (said so). The answer carries
    `X-Job-Started-By`, and the last request sent: the creation, or the listing that found
    the job taken (nothing else was sent)."""
    if retry and adopt_above is not None:
        found = client.job_created_above(connection_id, job_type, adopt_above)
        if found is not None:
            if may_have_created(execution, step):
                return _answer(found, STARTED_BY_THIS_RUN)
            if job_type == "sync":
                if log is not None:
                    log.warning("this run's sync was refused: Airbyte already runs a sync it started after this run's reset; the run watches that one",
                                extra={"jobId": found.body.get("jobId"), "connectionId": connection_id, "startedBy": STARTED_BY_AIRBYTE})
                return _answer(found, STARTED_BY_AIRBYTE)
    note_may_create(execution, step)
    try:
        created = client.create_job(connection_id, job_type)
    except InvalidAirbyteResponse as error:
        raise TransientAirbyteError(f"{error}; the retry looks for the job before creating one") from None
    except TransientAirbyteError as error:
        if error.changed_nothing:
            forget(execution, step)
        raise
    if created.status_code != 200:  # a definite answer: nothing was created
        forget(execution, step)
        return created
    return replace(created, headers={**created.headers, STARTED_BY_HEADER: STARTED_BY_THIS_RUN})


def _answer(found: ApiResponse, started_by: str) -> ApiResponse:
    """The job found by the listing, answered as its creation would be."""
    return ApiResponse(200, {"content-type": "application/json", STARTED_BY_HEADER: started_by}, found.body, found.request)


def note_may_create(execution: str | None, step: str) -> None:
    """Write down, before the request goes out, that this step may create a job, for its retry to read."""
    table, key = _table(execution), _key(execution, step)
    if table is None:
        _notes_in_memory.add(key)
        return
    aws_client("dynamodb").put_item(TableName=table, Item={"id": {"S": key}, "expiration": {"N": str(int(time.time()) + NOTE_LIFETIME_SECONDS)}})


def forget(execution: str | None, step: str) -> None:
    """The request certainly created nothing."""
    table, key = _table(execution), _key(execution, step)
    if table is None:
        _notes_in_memory.discard(key)
        return
    aws_client("dynamodb").delete_item(TableName=table, Key={"id": {"S": key}})


def may_have_created(execution: str | None, step: str) -> bool:
    table, key = _table(execution), _key(execution, step)
    if table is None:
        return key in _notes_in_memory
    return "Item" in aws_client("dynamodb").get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True)


def _table(execution: str | None) -> str | None:
    """The table the notes live in: the functions' IDEMPOTENCY_TABLE, when Step Functions
    invoked the step; None keeps them in memory (a test in one process)."""
    table = os.environ.get("IDEMPOTENCY_TABLE", "").strip()
    return table if table and execution is not None else None


def _key(execution: str | None, step: str) -> str:
    return f"may-have-created#{execution or '-'}#{step}"
