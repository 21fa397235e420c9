"""trigger-reset: start a reset job that clears the connection's data in the destination."""

from airbyte_client.handler import StepRequest, step_function


@step_function("createJob", idempotent=True)
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.body_uuid("connectionId")
    job_type = request.body_equals("jobType", "reset")
    adopt_above = request.adopt_above()
    return airbyte_client().create_job_once(connection_id, job_type, retry=request.retrying_since is not None, adopt_above=adopt_above)
