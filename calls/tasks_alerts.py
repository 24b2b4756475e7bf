"""Alert tasks (issue 16): thin wrappers around calls.services.alerts. Imported by calls/tasks.py, so workers
register them."""

from celery import shared_task


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=3)
def call_alerts_evaluate_task(call_id: int) -> None:
    # Idempotent: a delivery exists at most once per rule and call, so a retry or a re-analysis creates nothing new.
    from calls.services.alerts import call_alerts_evaluate

    call_alerts_evaluate(call_id=call_id)


@shared_task(bind=True, ignore_result=True, max_retries=None)  # the service stops after its MAX_ATTEMPTS
def alert_delivery_send_task(self, delivery_id: int) -> None:
    from calls.services.alerts import DeliveryRetry, alert_delivery_send

    try:
        alert_delivery_send(delivery_id=delivery_id)
    except DeliveryRetry as exc:
        raise self.retry(exc=exc.cause, countdown=exc.countdown) from exc


@shared_task(ignore_result=True)
def alert_digests_send_task() -> None:
    # Beat, hourly (a global entry from calls/migrations/0015_alerts.py): each due rule's digest as its own task.
    from calls.services.alerts import alert_deliveries_close_stale, alert_digests_due
    from dialix.queueing import task_enqueue

    alert_deliveries_close_stale()  # and deliveries a dead worker left Sending are shown as Failed
    for rule_id in alert_digests_due():
        task_enqueue(alert_digest_send_task, rule_id)


@shared_task(bind=True, ignore_result=True, max_retries=6)
def alert_digest_send_task(self, rule_id: int) -> None:
    from calls.services.alerts import DeliveryRetry, alert_digest_send

    try:
        alert_digest_send(rule_id=rule_id)
    except DeliveryRetry as exc:
        if self.request.retries >= self.max_retries:
            return  # the calls stay waiting (with the error shown) for the next hour's run
        raise self.retry(exc=exc.cause, countdown=exc.countdown) from exc
