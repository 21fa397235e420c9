"""poll-job: read a job's current status, once; the state machine owns the loop."""

from airbyte_client.handler import StepRequest, step_function


@step_function("getJob")
def lambda_handler(request: StepRequest, airbyte_client):
    job_id = request.path_job_id("jobId")
    return airbyte_client().get_job(job_id)
