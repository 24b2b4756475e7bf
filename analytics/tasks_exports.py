"""Celery wrappers of the dashboard's exports (analytics.exports)."""

from celery import shared_task


@shared_task(ignore_result=True)
def export_run_task(job_id: int) -> None:
    from analytics.exports import export_run  # the services import this module; this breaks the cycle

    export_run(job_id=job_id)


@shared_task(ignore_result=True)
def exports_expired_delete_task() -> None:
    from analytics.exports import exports_expired_delete

    exports_expired_delete()
