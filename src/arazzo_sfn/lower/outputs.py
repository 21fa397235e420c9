"""Pass: the workflow outputs, the execution's output."""

from __future__ import annotations


class OutputsPass:

    def _lower_outputs(self) -> None:
        at_end = self.guaranteed["$end"]
        parameters = {}
        for name, value in self.workflow.outputs.items():
            location = self.workflow.location
            key, lowered = self._template_entry(name, value, None, location, guaranteed=at_end)
            parameters[key] = lowered
        self._add("WorkflowOutputs", {"Type": "Pass", "Parameters": parameters, "End": True}, self.workflow.location)

