"""list-jobs: the connection's most recent jobs, so the workflow can refuse to reset a
connection while Airbyte is still running a job for it."""

from airbyte_client.handler import StepRequest, step_function


@step_function("listJobs")
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.query_uuid("connectionId")
    limit = request.query_limit("limit")
    # Most recently updated first: a job still running is among them.
    return airbyte_client().list_jobs(connectionId=connection_id, limit=limit, orderBy="updatedAt|DESC")
