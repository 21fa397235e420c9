"""trigger-reset: start a reset job that clears the connection's data in the destination."""

from airbyte_client.adoption import create_job_for_run
from airbyte_client.handler import StepRequest, logger, step_function


@step_function("createJob", idempotent=True)
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.body_uuid("connectionId")
    job_type = request.body_equals("jobType", "reset")
    adopt_above = request.adopt_above()
    return create_job_for_run(airbyte_client(), connection_id, job_type, execution=request.execution_id, step=request.step,
                              retry=request.retrying_since is not None, adopt_above=adopt_above, log=logger)
