"""How the pipeline's steps retry, in one place: how often, how long to wait, and what a call becomes when a step
gives up. Tasks only apply this; services raise StepRetry after releasing their claim."""

from __future__ import annotations

from dataclasses import dataclass

from calls.models import CallStatus, FailureCode
from integrations.errors import RateLimited


class StepRetry(Exception):
    """The step had a passing problem (rate limit, 5xx, timeout) and released its claim: the task retries later."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    step: str
    max_retries: int
    base_seconds: int  # first wait; doubled each retry
    cap_seconds: int
    waiting_status: str  # where the call waits between tries
    gave_up_code: str
    gave_up_reason: str  # {attempts} and {cause} are filled in

    def countdown(self, *, retries: int, cause: BaseException) -> int:
        """Seconds until the next try: the vendor's Retry-After when it gave one, else exponential backoff."""
        if isinstance(cause, RateLimited) and cause.retry_after:
            return int(min(max(cause.retry_after, 1), self.cap_seconds))
        return int(min(self.base_seconds * 2**retries, self.cap_seconds))


RECORDING = RetryPolicy(
    step="recording",
    max_retries=6,
    base_seconds=30,
    cap_seconds=900,
    waiting_status=CallStatus.NEW,
    gave_up_code=FailureCode.RECORDING_UNAVAILABLE,
    gave_up_reason="The PBX did not deliver the recording after {attempts} attempts: {cause}",
)
TRANSCRIPTION = RetryPolicy(
    step="transcription",
    max_retries=5,
    base_seconds=60,
    cap_seconds=1800,
    waiting_status=CallStatus.RECORDING_STORED,
    gave_up_code=FailureCode.STT_UNAVAILABLE,
    gave_up_reason="Speech-to-text kept failing after {attempts} attempts: {cause}",
)
ANALYSIS = RetryPolicy(
    step="analysis",
    max_retries=5,
    base_seconds=30,
    cap_seconds=1800,
    waiting_status=CallStatus.TRANSCRIBED,
    gave_up_code=FailureCode.ANALYSIS_UNAVAILABLE,
    gave_up_reason="The analyser kept failing after {attempts} attempts: {cause}",
)


def call_step_gave_up(*, call_id: int, policy: RetryPolicy, cause: BaseException, attempts: int, by: str) -> bool:
    from calls.services.states import call_transition

    return call_transition(
        call_id=call_id,
        to=CallStatus.FAILED,
        expect=policy.waiting_status,
        by=by,
        code=policy.gave_up_code,
        reason=policy.gave_up_reason.format(attempts=attempts, cause=f"{type(cause).__name__}: {cause}"),
    )
