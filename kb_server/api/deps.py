"""FastAPI dependencies, as `Annotated` aliases used by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kb_server.runtime.container import Services
from kb_server.services.chat import ChatEngine


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_chat(request: Request) -> ChatEngine:
    engine: ChatEngine = request.app.state.chat
    return engine


ChatDep = Annotated[ChatEngine, Depends(get_chat)]
