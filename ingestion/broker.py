"""Redis, as the Celery broker sees it: URLs, a plain client, and a look at the queue."""

from __future__ import annotations

import redis


def redis_client(url: str, timeout_s: float = 2.0) -> redis.Redis:
    """A redis-py client for a Celery-style URL (`redis://…` or `redis+socket:///path`)."""
    if url.startswith("redis+socket://"):
        path = url[len("redis+socket://") :].split("?", 1)[0]
        return redis.Redis(unix_socket_path=path, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def queue_depth(url: str, queue: str) -> int:
    """Messages waiting in the queue (not counting ones a worker has taken)."""
    client = redis_client(url)
    try:
        return int(client.llen(queue))
    finally:
        client.close()
