"""list-jobs: list the connection's most recent jobs, so the workflow never resets a
connection Airbyte is busy with, and knows the newest job id before it creates one."""

from airbyte_client.handler import StepRequest, step_function


@step_function("listJobs")
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.query_uuid("connectionId")
    limit = request.query_limit("limit")
    # Newest first: a connection runs one job at a time, so a job still running is the
    # newest, and the first job's id is the highest this run has seen.
    return airbyte_client().list_jobs(connectionId=connection_id, limit=limit, orderBy="createdAt|DESC")
