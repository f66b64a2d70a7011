"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kb_server.api.deps import ServicesDep
from kb_server.schemas import Health, Readiness
from kb_server.services import health as health_service

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The API process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(services: ServicesDep) -> JSONResponse:
    """The broker (Redis or RabbitMQ) reachable, a worker alive, the embedding model loaded. 503 until all
    three hold."""
    result = health_service.readiness(services)
    return JSONResponse(result.model_dump(), status_code=200 if result.ready else 503)
