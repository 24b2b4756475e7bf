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
    """The PBX's API says the call has no recording (an empty link): the one definite "no", not retried."""


class RecordingLinkExpired(PbxUnavailable):
    """The recording link answered 403/404/410 (or another 4xx): links live ~30 minutes (spec §6), so it expired or
    the file host is not ready. Retried, asking the API for a fresh link each time."""


class RecordingNotAudio(PbxUnavailable):
    """The recording link answered a page or JSON instead of audio: a passing fault of the file host, retried; the
    caller decides when it has seen it often enough to call the recording invalid."""


class RecordingTooLarge(PermanentIntegrationError):
    """The recording is bigger than the caller allows; whatever was written to the destination is incomplete."""
