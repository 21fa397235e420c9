"""Following the child executions a history starts (`states:startExecution` tasks)."""

from __future__ import annotations

import json

from arazzo_sfn.execution import Children, started_child

CHILD = "arn:aws:states:us-east-1:123456789012:execution:WaitForJob:waitForReset-1"


def submitted(resource: str, output: dict) -> dict:
    return {"type": "TaskSubmitted", "taskSubmittedEventDetails": {"resourceType": "states", "resource": resource, "output": json.dumps(output)}}


def test_the_started_child_is_read_from_the_task_submitted_event():
    assert started_child(submitted("startExecution.sync:2", {"ExecutionArn": CHILD, "StartDate": 1})) == CHILD
    assert started_child(submitted("startExecution", {"ExecutionArn": CHILD})) == CHILD
    assert started_child(submitted("sendTaskSuccess", {"ExecutionArn": CHILD})) is None
    assert started_child({"type": "TaskSubmitted", "taskSubmittedEventDetails": {"resourceType": "states", "resource": "startExecution.sync:2", "output": "not json"}}) is None
    assert started_child({"type": "TaskSucceeded"}) is None


def test_children_are_read_once_each_event_and_no_more_after_they_end():
    children = Children()
    children.note({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "waitForReset"}})
    children.note(submitted("startExecution.sync:2", {"ExecutionArn": CHILD}))
    assert children.started_by == {CHILD: "waitForReset"}
    history = [{"type": "ExecutionStarted"}, {"type": "TaskStateEntered"}]
    reads = []

    def read(arn):
        reads.append(arn)
        return list(history)

    assert [event["type"] for _, event in children.new_events(read)] == ["ExecutionStarted", "TaskStateEntered"]
    assert children.new_events(read) == []
    history.append({"type": "ExecutionSucceeded"})
    assert [event["type"] for _, event in children.new_events(read)] == ["ExecutionSucceeded"]
    assert children.new_events(read) == [] and len(reads) == 3  # an ended child is not read again
