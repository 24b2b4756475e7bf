"""Signals integrations sends for the apps above it, which it must never import (issue 16)."""

from django.dispatch import Signal

#: Sent by the PBX account admin before a backfill ("Read history from…") to show what a day of history costs.
#: Keyword arguments: ``company_id`` (int). A receiver returns a dict: ``calls_per_day``, ``minutes_per_day``,
#: ``cost_usd_per_day`` (Decimal or None), ``based_on_days`` (the recent days the rates come from).
backfill_estimate_requested = Signal()
