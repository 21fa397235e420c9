"""The Airbyte client shared by the reset-and-resync functions (deployed as a Lambda layer)."""

from airbyte_client.client import AirbyteClient, ApiResponse
from airbyte_client.errors import (
    AirbyteConfigurationError,
    AirbyteError,
    ConnectionBusy,
    InvalidAirbyteResponse,
    InvalidInput,
    TransientAirbyteError,
    UnsupportedOperation,
)

__all__ = [
    "AirbyteClient",
    "AirbyteConfigurationError",
    "AirbyteError",
    "ApiResponse",
    "ConnectionBusy",
    "InvalidAirbyteResponse",
    "InvalidInput",
    "TransientAirbyteError",
    "UnsupportedOperation",
]
