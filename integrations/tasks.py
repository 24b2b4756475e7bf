"""Thin Celery wrappers around integrations services. Webhook tasks run on the default queue: a send is seconds."""

from celery import shared_task


@shared_task
def webhook_deliver_task(delivery_id: int) -> None:
    # No Celery retry: the service writes the next try's time and the sweeper queues it, so a retry hours away is a
    # row in the database, not a message held by a worker (RabbitMQ would drop an unacked one after 30 minutes).
    from integrations.webhooks.services import webhook_deliver

    webhook_deliver(delivery_id=delivery_id)


@shared_task
def webhook_deliveries_sweep_task() -> None:
    """Beat, every minute: queues deliveries that are due (retries, and any a dead worker left)."""
    from integrations.webhooks.services import webhook_deliveries_queue_due

    webhook_deliveries_queue_due()
