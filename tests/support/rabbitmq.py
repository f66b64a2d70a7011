"""The machine's RabbitMQ, shared with other users: each test stack gets a queue of its own."""

from __future__ import annotations

import os
import uuid

from kombu import Connection

AMQP_URL = os.environ.get("KB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def unique_queue_name() -> str:
    return f"kb-test-{uuid.uuid4().hex[:12]}"


def delete_queue(queue: str, url: str = AMQP_URL) -> None:
    """Drop the queue, its messages and the direct exchange Celery declared under its name."""
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        channel.queue_delete(queue=queue)
        channel.exchange_delete(exchange=queue)
