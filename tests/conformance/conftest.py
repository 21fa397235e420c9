"""A tiny workflow (two steps on a pet shelter API) for the runner and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.testing import Reply

OPENAPI = """\
openapi: 3.0.3
info: {title: Pet shelter, version: 1.0.0}
paths:
  /pets/{petId}:
    get:
      operationId: getPet
      parameters:
      - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        '200': {description: The pet}
        '404': {description: No such pet}
  /adoptions:
    post:
      operationId: adoptPet
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses:
        '201': {description: Adopted}
"""

WORKFLOW = """\
arazzo: 1.0.1
info: {title: Adopt a pet, version: 1.0.0}
sourceDescriptions:
- {name: shelter, url: ./shelter.openapi.yaml, type: openapi}
workflows:
- workflowId: adopt-pet
  summary: Look a pet up, then adopt it.
  inputs:
    type: object
    required: [petId]
    properties:
      petId: {type: integer}
  steps:
  - stepId: findPet
    operationId: getPet
    parameters:
    - {name: petId, in: path, value: $inputs.petId}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
  - stepId: adopt
    operationId: adoptPet
    requestBody:
      contentType: application/json
      payload:
        petId: $inputs.petId
    successCriteria:
    - condition: $statusCode == 201
    outputs:
      adoptionId: $response.body#/id
  outputs:
    name: $steps.findPet.outputs.name
    adoptionId: $steps.adopt.outputs.adoptionId
"""

SHELTER = {
    "GET /pets/{petId}": [Reply(200, {"id": 7, "name": "Rex"})],
    "POST /adoptions": [Reply(201, {"id": "adoption-1"})],
}


@pytest.fixture
def shelter_workflow(tmp_path) -> Path:
    """The workflow document, with its OpenAPI description beside it."""
    (tmp_path / "shelter.openapi.yaml").write_text(OPENAPI, encoding="utf-8")
    path = tmp_path / "adopt.arazzo.yaml"
    path.write_text(WORKFLOW, encoding="utf-8")
    return path
