"""Following the child executions a history starts (`states:startExecution` tasks)."""

from __future__ import annotations

import json

from arazzo_sfn.history import Children, history_since, started_child

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
    history = [{"id": 1, "type": "ExecutionStarted"}, {"id": 2, "type": "TaskStateEntered"}]
    reads = []

    def read_since(arn, after):
        reads.append((arn, after))
        return [event for event in history if event["id"] > after]

    assert [event["type"] for _, event in children.new_events(read_since)] == ["ExecutionStarted", "TaskStateEntered"]
    assert children.new_events(read_since) == []
    history.append({"id": 3, "type": "ExecutionSucceeded"})
    assert [event["type"] for _, event in children.new_events(read_since)] == ["ExecutionSucceeded"]
    assert children.new_events(read_since) == []
    assert reads == [(CHILD, 0), (CHILD, 2), (CHILD, 2)]  # from the last event seen; an ended child is not read again


def test_history_since_reads_newest_first_only_up_to_the_events_seen():
    events = [{"id": number, "type": "X"} for number in range(1, 451)]
    calls = []

    class Client:
        def get_execution_history(self, executionArn, reverseOrder, maxResults, nextToken=None):
            calls.append(nextToken)
            start = int(nextToken or 0)
            page = list(reversed(events))[start:start + maxResults]
            more = start + maxResults < len(events)
            return {"events": page, **({"nextToken": str(start + maxResults)} if more else {})}

    assert [event["id"] for event in history_since(Client(), CHILD, 440)] == list(range(441, 451))
    assert calls == [None]  # one page holds them all: the 20,000 before are not read
    calls.clear()
    assert [event["id"] for event in history_since(Client(), CHILD, 100)] == list(range(101, 451))
    assert calls == [None, "25", "125"]  # pages of 25, 100, then 400: the third reaches event 100
