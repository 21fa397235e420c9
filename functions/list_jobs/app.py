"""list-jobs: claim the connection for this execution, then list its most recent jobs, so
the workflow never resets a connection that another run, or Airbyte itself, is busy with."""

from airbyte_client.claims import claim_connection
from airbyte_client.handler import StepRequest, step_function


@step_function("listJobs")
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.query_uuid("connectionId")
    limit = request.query_limit("limit")
    # Before Airbyte is asked anything: a second run of the same connection ends here.
    claim_connection(connection_id, request.execution_id)
    # Most recently updated first: a job still running is among them.
    return airbyte_client().list_jobs(connectionId=connection_id, limit=limit, orderBy="updatedAt|DESC")
