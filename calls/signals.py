"""Signals the calls app sends for the apps above it, which calls must never import (analytics keeps its daily
rollups with ``call_figures_changed``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.dispatch import Signal

#: Sent inside the transaction that changes a call's figures: analysed, re-analysed, an item corrected, speakers
#: swapped, the call deleted (retention or by hand), its operator or start time changed.
#: Keyword arguments: ``company_id`` (int) and ``points``, a list of ``(operator_id | None, started_at)`` of every
#: call concerned, taken *before* the change where the change moves or deletes the call (both old and new when a
#: call moves). Receivers defer their work with ``transaction.on_commit``.
call_figures_changed = Signal()


def figures_changed(*, company_id: int, points: Iterable[tuple[int | None, datetime]]) -> None:
    """Tell the apps above that these calls' figures changed (see ``call_figures_changed``)."""
    points = list(points)
    if points:
        call_figures_changed.send(sender="calls", company_id=company_id, points=points)
