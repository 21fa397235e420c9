"""Run the reset-and-resync state machine locally, and the Airbyte stub it can run against."""
