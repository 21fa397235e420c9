"""poll-job: read a job's current status, once, and propose when to read it again; the
state machine owns the loop and waits what this proposes."""

from airbyte_client.handler import StepRequest, step_function


@step_function("getJob")
def lambda_handler(request: StepRequest, airbyte_client):
    job_id = request.path_job_id("jobId")
    shortest_wait = request.header_seconds("X-Poll-Interval-Seconds", default=30)
    return airbyte_client().poll_job(job_id, shortest_wait)
