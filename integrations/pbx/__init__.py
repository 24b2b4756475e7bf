"""PBX integrations: the ``PbxClient`` protocol, its value types and errors (vendor clients live in submodules)."""

from integrations.pbx.base import Direction, PbxCall, PbxClient, PbxOperator
from integrations.pbx.errors import (
    PbxAuthError,
    PbxBadResponse,
    PbxUnavailable,
    RecordingLinkExpired,
    RecordingMissing,
    RecordingNotAudio,
    RecordingTooLarge,
)

__all__ = [
    "Direction",
    "PbxAuthError",
    "PbxBadResponse",
    "PbxCall",
    "PbxClient",
    "PbxOperator",
    "PbxUnavailable",
    "RecordingLinkExpired",
    "RecordingMissing",
    "RecordingNotAudio",
    "RecordingTooLarge",
]
