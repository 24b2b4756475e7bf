"""The OpenAPI schema declares the Bearer token, so Swagger UI's Authorize offers it (issue 9, finding 5)."""

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_declares_bearer_and_every_api_operation_accepts_it(token_client):
    response = token_client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    operations = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and "/webhook/" not in path  # the PBX webhook's secret is in its URL
        for operation in item.values()
    ]
    assert len(operations) >= 5
    assert all({"bearerAuth": []} in operation["security"] for operation in operations)
