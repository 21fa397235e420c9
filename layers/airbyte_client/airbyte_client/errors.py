"""The error taxonomy the state machine matches on.

Step Functions names a Lambda error after the exception's class name, so these class
names are a contract with the generated ASL: `TransientAirbyteError` is retried with
backoff by the state machine; every other error fails the execution at once.
"""


class AirbyteError(Exception):
    """Base class of every error this client raises."""


class TransientAirbyteError(AirbyteError):
    """Trouble that a later attempt may not meet: connection errors, timeouts, 429, 5xx,
    409 try-again-later. The state machine retries it with exponential backoff.

    `changed_nothing` is true when the request certainly changed nothing in Airbyte: it was
    never sent (connection refused, no such host), or Airbyte refused it (429, 503, 409
    try-again-later). Otherwise (an answer lost after the request went out, another 5xx) it
    may have: a retry of a create then looks for what it may have created. A subclass would
    not do: Step Functions matches the error by its class name."""

    def __init__(self, message: str = "", *, changed_nothing: bool = False) -> None:
        super().__init__(message)
        self.changed_nothing = changed_nothing


class InvalidInput(AirbyteError):
    """The step request is malformed (a field is missing, of the wrong type or format).
    Raised before any call to Airbyte; never retried."""


class UnsupportedOperation(AirbyteError):
    """The function was asked to perform an operation it does not implement."""


class AirbyteConfigurationError(AirbyteError):
    """The deployment is misconfigured: no API URL, an unreadable or malformed secret,
    plain HTTP to a remote host. Never retried: it will not heal by itself."""


class InvalidAirbyteResponse(AirbyteError):
    """Airbyte answered a request that may have changed state with a body we cannot read.
    Not retried, because a retry could create a second job."""


class ConnectionBusy(AirbyteError):
    """Another execution that is still running holds the connection. Raised before any
    call to Airbyte; never retried: this run ends, and the running one carries on. The
    workflow fails with the same name when Airbyte itself runs a job for the connection."""
