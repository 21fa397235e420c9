"""Powertools logging and metrics for the functions of a compiled workflow.
Service name and metrics namespace come from the environment (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE), as the template sets them. No Tracer: Lambda's active tracing
(Tracing: Active) records each invocation without the X-Ray SDK, which the layer leaves out."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
