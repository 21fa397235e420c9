"""The metrics a function emitted, read back from what it printed."""

from __future__ import annotations

import json
from typing import Any


def emitted_metrics(output: str) -> dict[str, Any]:
    """Metric name -> value, from the CloudWatch embedded-metric-format lines a function printed."""
    values = {}
    for line in output.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                values[metric["Name"]] = record[metric["Name"]]
    return values
