"""Who sees PII and where it is redacted (issue 16): the company's choices applied to a viewer or an engine.
The matching itself is calls.redaction (pure functions); this module only decides when to apply it."""

from __future__ import annotations

from dataclasses import replace

from calls.redaction import redact_text
from companies.models import Company, Role
from companies.tenancy import membership_for_user
from integrations.llm.base import AnalysisRequest

LOCAL_ANALYZERS = frozenset({"offline"})  # engines that run in our process: the text never leaves the machine


def viewer_role(user) -> str | None:
    """The role a request acts with: an API token is an integrator; None for a user without a membership."""
    from companies.api_auth import TokenPrincipal

    if isinstance(user, TokenPrincipal):
        return Role.INTEGRATOR
    membership = membership_for_user(user)
    return membership.role if membership is not None else None


def pii_hidden_for(*, user, company: Company) -> bool:
    """True when this viewer must see [CARD], [PHONE]… instead of the original. Dialix staff (superusers) see the
    original; a member sees it unless the company listed the member's role; anyone else sees the labels."""
    if user is not None and getattr(user, "is_superuser", False):
        return False
    role = viewer_role(user) if user is not None else None
    if role is None:
        return True
    return role in (company.pii_redacted_roles or [])


def redact_for(text: str, *, hidden: bool) -> str:
    return redact_text(text) if hidden and text else text


def llm_gets_redacted_text(*, company: Company, analyzer: str) -> bool:
    """An analyser that sends the transcript out of the machine (the OpenAI one, whatever its base URL) gets labels,
    unless the company chose to send the original (an LLM on its own premises)."""
    return analyzer not in LOCAL_ANALYZERS and not company.pii_send_original_to_llm


def analysis_request_redacted(request: AnalysisRequest) -> AnalysisRequest:
    """The request with every turn's text redacted; items (the company's own criteria) are left as they are."""
    turns = tuple(replace(turn, text=redact_text(turn.text)) for turn in request.turns)
    return replace(request, turns=turns)
