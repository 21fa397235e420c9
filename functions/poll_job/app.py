"""poll-job: read a job's current status, once, and propose when to read it again; the
state machine owns the loop and waits what this proposes. With X-Max-Job-Seconds it also
says whether a job that has not ended has run longer than that (X-Job-Overdue)."""

from airbyte_client.handler import StepRequest, record_job_end, step_function

# A year: Step Functions' longest execution.
LONGEST_JOB_SECONDS = 365 * 86400


@step_function("getJob")
def lambda_handler(request: StepRequest, airbyte_client):
    job_id = request.path_job_id("jobId")
    shortest_wait = request.header_seconds("X-Poll-Interval-Seconds", default=30)
    max_job_seconds = request.header_seconds("X-Max-Job-Seconds", default=None, maximum=LONGEST_JOB_SECONDS)
    answer = airbyte_client().poll_job(job_id, shortest_wait, max_job_seconds)
    record_job_end(answer.body, reads=request.loop_passes + 1)
    return answer
