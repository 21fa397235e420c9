"""get-connection: claim the connection for this execution, then read it, so the workflow
resets only a connection no other run holds, and one Airbyte will sync afterwards (Airbyte
resets an inactive connection and then refuses its sync)."""

from airbyte_client.claims import claim_connection
from airbyte_client.handler import StepRequest, step_function


@step_function("getConnection")
def lambda_handler(request: StepRequest, airbyte_client):
    connection_id = request.path_uuid("connectionId")
    # Before Airbyte is asked anything: a second run of the same connection ends here.
    claim_connection(connection_id, request.execution_id)
    return airbyte_client().get_connection(connection_id)
