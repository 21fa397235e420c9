"""The errors of the step functions (the generic operation's, and the payload's for all).

Step Functions names a Lambda error after the exception's class name, so these class
names are a contract with the generated state machine: `TransientHttpError` is the one a
workflow may retry (through its own onFailure retry actions or `x-task-retry`); every
other error fails the step at once, because trying again would meet the same problem.

Messages name the step, method, path template, host and field at fault. They never
quote a header, cookie or query value, nor a full URL: any of those may carry a
credential, and error messages end up in the execution history.
"""


class OperationError(Exception):
    """Base class of the errors the generic operation raises."""


class TransientHttpError(OperationError):
    """No usable answer, for a reason a later attempt may not meet: the connection failed,
    it timed out, or the answer was cut off. Raised whatever the method: whether repeating
    a request is safe is the workflow's decision, not the transport's."""


class InvalidRequest(OperationError):
    """The step request cannot be sent as given: a field of the payload is missing, of the
    wrong type or not a field of its version, a path parameter is missing, a header value
    would break the request, or the server URL is not acceptable (plain HTTP to a remote
    host, credentials in the URL). Raised before anything is sent."""


class PayloadVersionMismatch(OperationError):
    """The payload is of another version than the functions read, or of none: the state
    machine and the functions come from different builds (`arazzo_runtime.payload`). Not
    an `InvalidRequest`: the payload may be right for the functions it was compiled for,
    and the cure is to deploy both from the same build, not to change the document."""


class ServerUrlMissing(OperationError):
    """The deployment names no server for the step's source description."""


class ResponseTooLarge(OperationError):
    """The answer's body is too large to travel in Step Functions state (256 KiB in all)."""


class TlsError(OperationError):
    """The server's certificate could not be verified. Not transient: it will not heal by
    retrying, and verification is never turned off."""


class LoopAgain(Exception):
    """Not a failure: a poll loop lowered into the Task's own Retry goes on. The function
    raises it while the loop action's criteria hold; the Retrier on this error name waits
    and runs the step again (see `arazzo_runtime.step`)."""


class PageLimitExceeded(OperationError):
    """A step that lists every page (`x-pages`) met more pages than its `maxPages`: failed
    rather than answer a list that would look whole and is not."""


class UnexpectedPage(OperationError):
    """A page of a step that lists every page (`x-pages`) is not what its `x-pages` says:
    its body has no array at `items`, its next link is not a URL of the step's server, or
    the step's offset or limit is not a whole number."""
