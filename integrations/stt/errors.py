from integrations.errors import PermanentIntegrationError


class AudioUndecodable(PermanentIntegrationError):
    """The file cannot be decoded as audio."""


class NoSpeech(PermanentIntegrationError):
    """The audio decodes but holds no speech (silence, a tone, zero length)."""
