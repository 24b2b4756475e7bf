"""PBX-specific names for the integration errors, so callers and messages can say "PBX"."""

from integrations.errors import AuthFailed, BadResponse, PermanentIntegrationError, TransientIntegrationError


class PbxAuthError(AuthFailed):
    """Wrong API key, a key pair rejected twice, or an unknown PBX domain: a person must fix the settings."""


class PbxConfigError(PermanentIntegrationError):
    """The account's settings cannot be used (a domain that is not a host name, an API host not allowed)."""


class PbxUnavailable(TransientIntegrationError):
    """Timeout, connection error or 5xx from the PBX."""


class PbxBadResponse(BadResponse):
    """The PBX answered something that does not follow its wire format, or reported a logical error."""


class RecordingMissing(PermanentIntegrationError):
    """The recording link answered 404/410: the file is gone or the link expired."""


class RecordingTooLarge(PermanentIntegrationError):
    """The recording is bigger than the caller allows; whatever was written to the destination is incomplete."""
