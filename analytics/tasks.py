"""Thin Celery wrappers of the rollup services (issue 15)."""

from celery import shared_task


@shared_task(ignore_result=True)
def rollups_recheck_task() -> None:
    # Beat, hourly (a global entry from analytics/migrations/0001_rollups): the last DIALIX_ROLLUP_RECHECK_DAYS local
    # days of every company recomputed from the calls, repairing any rollup a lost refresh left behind. Idempotent.
    from analytics.services import rollups_recheck

    rollups_recheck()


@shared_task(ignore_result=True)
def rollups_refresh_task(company_id: int, keys: list) -> None:
    # Queued once a transaction that changed calls' figures commits (analytics.services.rollups_on_figures_changed),
    # so the pipeline's step does not wait for it. keys: [[local day ISO, operator id | None], ...]. Idempotent.
    import datetime as dt

    from analytics.services import rollups_refresh

    rollups_refresh(company_id=company_id, keys=[(dt.date.fromisoformat(day), operator) for day, operator in keys])
