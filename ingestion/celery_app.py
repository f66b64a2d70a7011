"""The Celery application: Redis or RabbitMQ broker, JSON only, late acks, one message at a time.

Task results are kept (in Redis, for a week) only when Redis is the broker, for tools such as
Flower; kb-server itself never reads them: the catalog is the record of every task's state and
progress. With RabbitMQ there is no result backend.
"""

from __future__ import annotations

from celery import Celery

from ingestion.broker import is_redis
from ingestion.reembed_tasks import register_reembed_tasks
from ingestion.settings import IngestionSettings
from ingestion.tasks import register_tasks
from ingestion.web.tasks import register_web_tasks


def create_celery(broker_url: str, settings: IngestionSettings) -> Celery:
    """Build the Celery app used by both the API (to send) and the worker (to run).

    Late acks and reject-on-worker-lost make a killed worker's file come back; that is safe only
    because the ingestion task is idempotent.
    """
    backend = broker_url if is_redis(broker_url) else None
    app = Celery("kb_server", broker=broker_url, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue_name,
        task_ignore_result=backend is None,
        task_track_started=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        result_expires=7 * 24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # Redis: longer than any task may run, so a live task's message is never handed out twice.
        # RabbitMQ has no such timeout (it redelivers when the connection drops), but its own
        # consumer_timeout must exceed task_time_limit_s: see the README's broker section.
        broker_transport_options={"visibility_timeout": 2 * settings.task_time_limit_s + 60},
        result_backend_transport_options={"retry_policy": {"timeout": 3.0}},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    register_tasks(app, settings)
    register_reembed_tasks(app, settings)
    register_web_tasks(app)
    return app
