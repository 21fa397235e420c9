"""What a person sees while runs go on (`run`, `start --wait`, `watch`, `redrive --wait`): the
workflow's steps (not the generated state names), each run's Airbyte job and its status, the
time elapsed, and every failed attempt with its reason and when the next one comes
("listJobs: ... refused by 127.0.0.1:9; ... -- attempt 2 of 7 in at most 10 s"). A live
display on a terminal; plain lines otherwise (a pipe, a file, a CI log), one per event."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from airbyte_resync import files
from airbyte_resync.transitions import Transition
from arazzo_sfn.retry_policy import next_attempt, retries_made

if TYPE_CHECKING:  # rich is imported only for a live display
    from rich.console import Group, RenderableType
    from rich.live import Live

WORKFLOW = files.WORKFLOW
MACHINES = (files.STATE_MACHINES / "reset_and_resync.asl.json", files.STATE_MACHINES / "wait_for_job.asl.json")
# The failed attempts a live display keeps in view, per run.
RECENT_FAILURES = 4
# A fleet's live display: the runs under way, and this many of those that ended, newest first.
ENDED_RUNS_SHOWN = 10


def workflow_steps(workflow_id: str = "reset-and-resync") -> list[str]:
    """The step ids of the workflow, in its order."""
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [workflow] = [item for item in document["workflows"] if item["workflowId"] == workflow_id]
    return [step["stepId"] for step in workflow["steps"]]


def committed_states() -> dict[str, Mapping[str, Any]]:
    """Every state of the committed state machines by name (what their retries follow)."""
    states: dict[str, Mapping[str, Any]] = {}
    for path in MACHINES:
        for name, state in json.loads(path.read_text(encoding="utf-8"))["States"].items():
            states.setdefault(name, state)
    return states


def failure_line(states: Mapping[str, Mapping[str, Any]], state_name: str, error: str, message: str, earlier_errors: list[str]) -> str:
    """`<state>: <message> -- attempt k of N in X s`, or `... -- no attempt left`; just
    `<state>: <message>` for a state whose Retry is not known."""
    state = states.get(state_name)
    reason = message.strip().splitlines()[0] if message.strip() else error
    if state is None:
        return f"{state_name}: {reason}"
    coming = next_attempt(state, error, retries_made(state, error, earlier_errors))
    return f"{state_name}: {reason} -- {coming.describe() if coming else 'no attempt left'}"


@dataclass
class _Step:
    mark: str = "pending"  # pending, running, done, failed
    at: float | None = None  # seconds into the run when it ended
    job_id: Any = None
    job_status: Any = None


@dataclass
class _Run:
    title: str
    label: str  # what precedes its plain lines when several runs are shown
    started_at: float  # wall clock
    steps: dict[str, _Step]
    ended: str | None = None
    ended_at: float | None = None
    failures: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=RECENT_FAILURES))
    shown: tuple[str, str, str] | None = None  # the last plain line's state, job and status


class Progress:
    """Collects what happens to each run and shows it, live or as plain lines."""

    def __init__(self, out: TextIO, steps: list[str], states: Mapping[str, Mapping[str, Any]], live: bool, *, fleet: bool = False):
        """`fleet`: one line per run (a fleet's connections) and the counts, instead of each run's steps."""
        self.out, self.steps, self.states, self.fleet = out, steps, states, fleet
        self.runs: dict[str, _Run] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        if live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=out), get_renderable=self._render, refresh_per_second=8, transient=False)

    @property
    def live(self) -> bool:
        return self._live is not None

    # ---------------------------------------------------------------- what happens

    def add_run(self, key: str, title: str, label: str = "", started_at: float | None = None) -> None:
        with self._lock:
            run = _Run(title, label, started_at if started_at is not None else time.time(), {step: _Step() for step in self.steps})
            if self.steps:
                run.steps[self.steps[0]].mark = "running"
            self.runs[key] = run
        if self._live is None and self.fleet:
            self._write(f"{self._label(key)}started {title}: {key}")
        elif self._live is None:
            self._write(title)
            self._write(f"{'elapsed':>8}  {'state':<36} {'job':>8}  status")

    def set_counts(self, counts: Mapping[str, int]) -> None:
        """A fleet's connections by how they stand, shown when they change."""
        with self._lock:
            changed = dict(counts) != self.counts
            self.counts = dict(counts)
        if changed and self._live is None:
            self._write(f"counts: {_counts_text(counts)}")

    def transition(self, key: str, transition: Transition) -> None:
        """A state the run went through; one of a child execution (wait-for-job's pollJob) only
        brings the job and status of the step that started the child, shown when they change."""
        with self._lock:
            run = self.runs[key]
            shown = self._child_state(run, transition, transition.started_by) if transition.started_by else self._own_state(run, transition)
            job = "" if shown is None or shown.job_id is None else str(shown.job_id)
            line = None if shown is None else (shown.state, job, str(shown.job_status or ""))
            # The child's last read and the step that started it end with the same job and
            # status: one line says it.
            repeated = line is not None and line == run.shown
            if line is not None:
                run.shown = line
        if shown is not None and self._live is None and not repeated:
            self._write(f"{self._label(key)}{shown.elapsed:7.1f}s  {shown.state:<36} {job:>8}  {shown.job_status or ''}".rstrip())

    def _own_state(self, run: _Run, transition: Transition) -> Transition:
        step_name = transition.state.split(".", 1)[0]
        step = run.steps.get(step_name)  # None for the states around the steps (CheckInput, ...)
        if step is not None:
            if transition.job_id is not None:
                step.job_id, step.job_status = transition.job_id, transition.job_status
            if transition.state_type == "Fail":
                step.mark, step.at = "failed", transition.elapsed
            elif transition.state == step_name and step.mark != "failed":  # the step's own Task ended
                step.mark, step.at = "done", transition.elapsed
                following = self.steps[self.steps.index(step_name) + 1:]
                if following and run.steps[following[0]].mark == "pending":
                    run.steps[following[0]].mark = "running"
        return transition

    def _child_state(self, run: _Run, transition: Transition, started_by: str) -> Transition | None:
        parent = run.steps.get(started_by.split(".", 1)[0])
        job = (transition.job_id, transition.job_status)
        if parent is None or transition.job_id is None or job == (parent.job_id, parent.job_status):
            return None
        parent.job_id, parent.job_status = job
        return Transition(started_by, "Task", transition.elapsed, *job)

    def failed_attempt(self, key: str, state_name: str, error: str, message: str, earlier_errors: list[str]) -> None:
        line = failure_line(self.states, state_name, error, message, earlier_errors)
        with self._lock:
            run = self.runs.get(key)
            if run is not None:
                run.failures.append((time.strftime("%H:%M:%S"), line))
        if self._live is None:
            self._write(f"{self._label(key)}{'':>8}  {line}")

    def end(self, key: str, status: str, ended_at: float | None = None) -> None:
        """`ended_at`: when the run ended (epoch seconds, its execution's stop date), if known;
        else now. A run read after its end ends when it did, not when it was read."""
        with self._lock:
            run = self.runs[key]
            run.ended, run.ended_at = status, time.time() if ended_at is None else ended_at
            for step in run.steps.values():
                if step.mark == "running":
                    step.mark = "failed" if status != "SUCCEEDED" else "pending"
        if self.fleet and self._live is None:
            self._write(f"{self._label(key)}{run.ended_at - run.started_at:7.1f}s  {status}")

    # ---------------------------------------------------------------- showing it

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.stop()

    def _label(self, key: str) -> str:
        run = self.runs.get(key)
        return f"{run.label}  " if run is not None and run.label and (self.fleet or len(self.runs) > 1) else ""

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _render(self) -> Group:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        marks = {"done": Text("✔", style="green"), "failed": Text("✘", style="bold red"), "pending": Text("·", style="dim")}
        parts: list[RenderableType] = []
        if self.fleet:
            return self._render_fleet(marks)
        with self._lock:
            for run in self.runs.values():
                elapsed = (run.ended_at or time.time()) - run.started_at
                ending = f"  {run.ended}" if run.ended else ""
                parts.append(Text.assemble((run.title, "bold"), (f"   {_duration(elapsed)}{ending}", "cyan")))
                table = Table.grid(padding=(0, 2))
                for _ in range(5):
                    table.add_column()
                for name, step in run.steps.items():
                    mark = Spinner("dots", style="yellow") if step.mark == "running" and not run.ended else marks.get(step.mark, marks["pending"])
                    job = "" if step.job_id is None else f"job {step.job_id}"
                    at = "" if step.at is None else _duration(step.at)
                    table.add_row(mark, Text(name, style="dim" if step.mark == "pending" else ""), job, str(step.job_status or ""), Text(at, style="dim"))
                parts.append(table)
                for stamp, line in run.failures:
                    parts.append(Text.assemble(("  ! ", "bold yellow"), (f"{stamp} ", "dim"), line))
                parts.append(Text(""))
        return Group(*parts)


    def _render_fleet(self, marks: dict[str, Any]) -> Group:
        """One line per connection: its step now, job, job status, elapsed, and how it ended."""
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        for _ in range(6):
            table.add_column()
        with self._lock:
            running = [run for run in self.runs.values() if not run.ended]
            ended = sorted((run for run in self.runs.values() if run.ended), key=lambda run: run.ended_at or 0, reverse=True)
            for run in running + ended[:ENDED_RUNS_SHOWN]:
                step_name, step = _current_step(run)  # step: the one whose job is shown
                elapsed = (run.ended_at or time.time()) - run.started_at
                if run.ended:
                    mark: RenderableType = marks["done"] if run.ended == "SUCCEEDED" else marks["failed"]
                else:
                    mark = Spinner("dots", style="yellow")
                job = "" if step is None or step.job_id is None else f"job {step.job_id}"
                table.add_row(mark, Text(run.title, style="bold"), step_name, job, str(step.job_status or "") if step else "",
                              Text(f"{_duration(elapsed)}{'  ' + run.ended if run.ended else ''}", style="cyan"))
            hidden = max(0, len(ended) - ENDED_RUNS_SHOWN)
            parts: list[RenderableType] = [table]
            if hidden:
                parts.append(Text(f"... and {hidden} more that ended", style="dim"))
            if self.counts:
                parts.append(Text(f"counts: {_counts_text(self.counts)}", style="bold"))
        return Group(*parts)


def _current_step(run: _Run) -> tuple[str, _Step | None]:
    """The step a run is at (the furthest one begun), and the step of its latest Airbyte job."""
    at, job = "", None
    for name, step in run.steps.items():
        if step.mark != "pending":
            at = name
        if step.job_id is not None:
            job = step
    return at, job


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def wants_live(out: TextIO, as_json: bool) -> bool:
    """A live display only for a person at a terminal."""
    import os

    isatty = getattr(out, "isatty", None)
    return not as_json and bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"
