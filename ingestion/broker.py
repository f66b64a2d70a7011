"""The Celery broker as kb-server sees it, Redis or RabbitMQ: URLs, a liveness check, the queue's depth.

Redis is read with redis-py (`LLEN` of the queue's list); RabbitMQ through kombu (a passive
`queue.declare`, whose `message_count` is the messages ready, not the ones a worker holds).
"""

from __future__ import annotations

import redis
from amqp.exceptions import NotFound
from kombu import Connection

REDIS_SCHEMES = ("redis", "rediss", "redis+socket")


def is_redis(url: str) -> bool:
    return url.split("://", 1)[0].lower() in REDIS_SCHEMES


def redis_client(url: str, timeout_s: float = 2.0) -> redis.Redis:
    """A redis-py client for a Celery-style URL (`redis://…` or `redis+socket:///path`)."""
    if url.startswith("redis+socket://"):
        path = url[len("redis+socket://") :].split("?", 1)[0]
        return redis.Redis(unix_socket_path=path, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def ping(url: str, timeout_s: float = 2.0) -> None:
    """Raises: an `OSError`, `redis.RedisError` or kombu/amqp error when the broker does not answer."""
    if is_redis(url):
        client = redis_client(url, timeout_s)
        try:
            client.ping()
        finally:
            client.close()
        return
    with Connection(url, connect_timeout=timeout_s) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout_s)  # one try: callers retry


def queue_depth(url: str, queue: str, timeout_s: float = 2.0) -> int:
    """Messages waiting in the queue (not counting ones a worker has taken); 0 if it was never declared."""
    if is_redis(url):
        client = redis_client(url, timeout_s)
        try:
            return int(client.llen(queue))
        finally:
            client.close()
    with Connection(url, connect_timeout=timeout_s) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout_s)
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except NotFound:  # the broker closed this channel; the connection closes with it
            return 0
