"""Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def read_metrics(request: Request) -> Response:
    """Prometheus text format: files by status, chunks per KB, queue depth, ingestion time per stage,
    ingestion outcomes, chat latency and tokens, HTTP latency by route."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
