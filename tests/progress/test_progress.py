"""What a person sees while runs go on: the next attempt read from a state's Retry, the plain
lines of a log, and the live display's steps, jobs and failed attempts."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from airbyte_resync.progress import Progress, committed_states, failure_line, wants_live, workflow_steps
from airbyte_resync.transitions import Transition
from arazzo_sfn.retry_policy import NextAttempt, next_attempt, retries_made

STATE = {
    "Type": "Task",
    "Retry": [
        {"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 6},
        {"ErrorEquals": ["TransientAirbyteError"], "IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 6,
         "MaxDelaySeconds": 120, "JitterStrategy": "FULL"},
        {"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1},
    ],
}


@pytest.mark.parametrize(("error", "retries", "expected"), [
    ("Lambda.ServiceException", 0, NextAttempt(2, 7, 2.0, False)),
    ("Lambda.ServiceException", 3, NextAttempt(5, 7, 16.0, False)),
    ("TransientAirbyteError", 0, NextAttempt(2, 7, 5.0, True)),
    ("TransientAirbyteError", 5, NextAttempt(7, 7, 120.0, True)),  # 160 s, held to MaxDelaySeconds
    ("TransientAirbyteError", 6, None),  # all retries made
    ("SomethingElse", 0, NextAttempt(2, 2, 1.0, False)),  # States.TaskFailed: defaults 1 s
    ("States.Timeout", 0, None),  # States.TaskFailed does not take a timeout
])
def test_the_next_attempt_follows_the_retrier_that_takes_the_error(error, retries, expected):
    assert next_attempt(STATE, error, retries) == expected


def test_each_retrier_counts_its_own_retries():
    earlier = ["Lambda.ServiceException", "TransientAirbyteError", "Lambda.ServiceException", "SomethingElse"]
    assert retries_made(STATE, "TransientAirbyteError", earlier) == 1
    assert retries_made(STATE, "Lambda.ServiceException", earlier) == 2
    assert retries_made(STATE, "Other", earlier) == 1  # States.TaskFailed's
    assert retries_made({"Type": "Task"}, "TransientAirbyteError", earlier) == 0


def test_states_all_takes_every_error_and_no_retry_means_no_attempt():
    assert next_attempt({"Retry": [{"ErrorEquals": ["States.ALL"]}]}, "Anything", 2) == NextAttempt(4, 4, 4.0, False)
    assert next_attempt({"Type": "Task"}, "TransientAirbyteError", 0) is None


def test_a_failure_line_names_the_state_the_reason_and_when_the_next_attempt_comes():
    states = {"listJobs": STATE}
    line = failure_line(states, "listJobs", "TransientAirbyteError", "connection refused by 127.0.0.1:9\nmore", [])
    assert line == "listJobs: connection refused by 127.0.0.1:9 -- attempt 2 of 7 in at most 5 s"
    # Each retrier counts its own retries: two Lambda errors before do not count for this one.
    line = failure_line(states, "listJobs", "TransientAirbyteError", "refused", ["Lambda.ServiceException"] * 2 + ["TransientAirbyteError"])
    assert line.endswith("-- attempt 3 of 7 in at most 10 s")
    assert failure_line(states, "listJobs", "TransientAirbyteError", "refused", ["TransientAirbyteError"] * 6).endswith("-- no attempt left")


def test_the_committed_retries_are_what_the_display_reads():
    states = committed_states()
    assert "pollJob" in states and "checkConnection" in states
    assert next_attempt(states["checkConnection"], "TransientAirbyteError", 0) == NextAttempt(2, 7, 5.0, True)
    assert workflow_steps() == ["checkConnection", "checkConnectionIdle", "triggerReset", "waitForReset", "triggerResync", "waitForResync"]


def transition(state: str, state_type: str, elapsed: float, job=None, status=None) -> Transition:
    return Transition(state, state_type, elapsed, job, status)


def test_plain_lines_carry_every_state_and_failed_attempt(capsys):
    out = io.StringIO()
    progress = Progress(out, workflow_steps(), {"checkConnection": STATE}, live=False)
    with progress:
        progress.add_run("run", "Resetting and re-syncing connection c against stub")
        progress.transition("run", transition("CheckInput", "Choice", 0.0))
        progress.failed_attempt("run", "checkConnection", "TransientAirbyteError", "refused by 127.0.0.1:9", [])
        progress.transition("run", transition("triggerReset", "Task", 1.5, 1001, "pending"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Resetting and re-syncing connection c against stub"
    assert lines[2].split() == ["0.0s", "CheckInput"]
    assert lines[3].strip() == "checkConnection: refused by 127.0.0.1:9 -- attempt 2 of 7 in at most 5 s"
    assert lines[4].split() == ["1.5s", "triggerReset", "1001", "pending"]


def test_plain_lines_of_several_runs_are_labelled():
    out = io.StringIO()
    progress = Progress(out, workflow_steps(), {}, live=False)
    progress.add_run("a", "first", "9f1c1e4a")
    progress.add_run("b", "second", "0a1b2c3d")
    progress.transition("b", transition("checkConnection", "Task", 0.2))
    assert out.getvalue().splitlines()[-1].startswith("0a1b2c3d  ")


def rendered(progress: Progress) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(progress._render())
    return console.file.getvalue()


def test_the_live_display_shows_the_workflow_steps_jobs_and_failed_attempts():
    progress = Progress(io.StringIO(), workflow_steps(), committed_states(), live=True)
    progress.add_run("run", "Resetting and re-syncing connection c")
    for state, kind, job, status in [("checkConnection", "Task", None, None), ("checkConnection.Route", "Choice", None, None),
                                     ("checkConnectionIdle", "Task", None, None), ("triggerReset", "Task", 1001, "pending")]:
        progress.transition("run", transition(state, kind, 1.0, job, status))
    progress.failed_attempt("run", "checkConnection", "TransientAirbyteError", "refused by 127.0.0.1:9", [])
    screen = rendered(progress)

    assert "Resetting and re-syncing connection c" in screen
    rows = {line.split()[1]: line.split() for line in screen.splitlines() if len(line.split()) > 1 and line.split()[1] in workflow_steps()}
    assert list(rows) == workflow_steps()  # every step, in order; no generated state names
    assert "checkConnection.Route" not in screen
    assert rows["checkConnection"][0] == "✔" and rows["triggerReset"][:5] == ["✔", "triggerReset", "job", "1001", "pending"]
    assert rows["waitForReset"][0] not in ("✔", "✘", "·")  # the spinner of the step under way
    assert rows["triggerResync"][0] == "·"
    assert "checkConnection: refused by 127.0.0.1:9 -- attempt 2 of 7 in at most 5 s" in screen

    progress.transition("run", transition("waitForReset.resetFailed.Fail", "Fail", 9.0, 1001, "failed"))
    progress.end("run", "FAILED")
    screen = rendered(progress)
    [failed] = [line for line in screen.splitlines() if "waitForReset" in line]
    assert failed.split()[:5] == ["✘", "waitForReset", "job", "1001", "failed"]
    assert "FAILED" in screen


def test_the_live_display_is_only_for_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm")
    assert wants_live(Terminal(), as_json=False)
    assert not wants_live(Terminal(), as_json=True)
    assert not wants_live(io.StringIO(), as_json=False)
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_live(Terminal(), as_json=False)


def test_a_child_state_brings_the_job_status_of_the_step_that_started_it():
    out = io.StringIO()
    progress = Progress(out, workflow_steps(), {}, live=False)
    progress.add_run("run", "title")
    progress.transition("run", transition("triggerReset", "Task", 1.0, 1001))
    polled = [Transition("CheckInput", "Choice", 1.1, 1001, None, started_by="waitForReset"),
              Transition("pollJob", "Task", 1.2, 1001, "running", started_by="waitForReset"),
              Transition("pollJob.stillRunning.Wait", "Wait", 6.2, 1001, "running", started_by="waitForReset"),
              Transition("pollJob", "Task", 6.3, 1001, "running", started_by="waitForReset"),
              Transition("pollJob", "Task", 11.4, 1001, "succeeded", started_by="waitForReset")]
    for item in polled:
        progress.transition("run", item)
    # One line per change of the job's status, under the step that started the child.
    assert [line.split() for line in out.getvalue().splitlines()[3:]] == [
        ["1.1s", "waitForReset", "1001"], ["1.2s", "waitForReset", "1001", "running"], ["11.4s", "waitForReset", "1001", "succeeded"]]
    step = progress.runs["run"].steps["waitForReset"]
    assert (step.job_id, step.job_status, step.mark) == (1001, "succeeded", "running")  # done when the parent's state ends


def test_the_step_that_started_the_child_ending_as_its_last_read_said_adds_no_line():
    out = io.StringIO()
    progress = Progress(out, workflow_steps(), {}, live=False)
    progress.add_run("run", "title")
    progress.transition("run", Transition("pollJob", "Task", 2.0, 1001, "succeeded", started_by="waitForReset"))
    progress.transition("run", transition("waitForReset", "Task", 2.1, 1001, "succeeded"))
    progress.transition("run", transition("waitForReset.Route", "Choice", 2.1, 1001, "succeeded"))

    assert [line.split()[1:] for line in out.getvalue().splitlines()[2:]] == [
        ["waitForReset", "1001", "succeeded"], ["waitForReset.Route", "1001", "succeeded"]]
    assert progress.runs["run"].steps["waitForReset"].mark == "done"


def test_the_live_display_shows_each_run_of_several():
    progress = Progress(io.StringIO(), workflow_steps(), {}, live=True)
    progress.add_run("a", "Connection 9f1c1e4a: first")
    progress.add_run("b", "Connection 0a1b2c3d: second")
    progress.transition("b", transition("checkConnection", "Task", 0.5))
    progress.end("a", "SUCCEEDED")
    screen = rendered(progress)
    assert screen.index("Connection 9f1c1e4a: first") < screen.index("Connection 0a1b2c3d: second")
    assert screen.count("checkConnectionIdle") == 2 and "SUCCEEDED" in screen


def test_a_fleet_shows_one_line_per_connection_and_the_counts():
    progress = Progress(io.StringIO(), workflow_steps(), {}, live=True, fleet=True)
    progress.add_run("child-a", "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f", "9f1c1e4a")
    progress.add_run("child-b", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "0a1b2c3d")
    progress.transition("child-a", transition("triggerReset", "Task", 2.0, 1001, "running"))
    progress.transition("child-b", transition("waitForReset.resetFailed.Fail", "Fail", 3.0, 1002, "failed"))
    progress.end("child-b", "FAILED")
    progress.set_counts({"running": 1, "succeeded": 0, "failed": 1})
    screen = rendered(progress)

    rows = {line.split()[1]: line.split() for line in screen.splitlines() if len(line.split()) > 1 and "-" in line.split()[1]}
    assert rows["9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"][2:6] == ["waitForReset", "job", "1001", "running"]  # the step under way
    assert rows["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"][0] == "✘" and rows["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"][-1] == "FAILED"
    assert "counts: running 1, succeeded 0, failed 1" in screen
    assert "checkConnectionIdle" not in screen  # no table of steps per connection


def test_a_fleets_plain_lines_name_each_connection_and_its_end():
    out = io.StringIO()
    progress = Progress(out, workflow_steps(), {}, live=False, fleet=True)
    progress.add_run("child-a", "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f", "9f1c1e4a")
    progress.transition("child-a", transition("triggerReset", "Task", 2.0, 1001, "running"))
    progress.set_counts({"running": 1})
    progress.set_counts({"running": 1})  # unchanged: not said again
    progress.end("child-a", "SUCCEEDED")
    lines = [line.split() for line in out.getvalue().splitlines()]
    assert lines[0] == ["9f1c1e4a", "started", "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f:", "child-a"]
    assert lines[1] == ["9f1c1e4a", "2.0s", "triggerReset", "1001", "running"]
    assert lines[2:] == [["counts:", "running", "1"], ["9f1c1e4a"] + lines[3][1:2] + ["SUCCEEDED"]]
