from integrations.errors import BadResponse


class SchemaViolation(BadResponse):
    """The model answered, but not in the required shape (missing keys, unknown item keys, bad enum values)."""
