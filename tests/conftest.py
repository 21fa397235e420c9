"""Shared test settings: the functions' Powertools configuration is read at import time,
so it is set before any test imports them."""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "airbyte-resync")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AirbyteResync")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
