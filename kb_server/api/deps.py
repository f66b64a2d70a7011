"""FastAPI dependencies, as `Annotated` aliases used by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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


def get_owner(
    client_id: Annotated[
        str,
        Header(
            alias="X-Client-Id",
            pattern=r"^[\w.\-]{1,64}$",
            description="whose conversations these are (each browser sends its own); absent: the shared ones. "
            "It keeps clients apart, it does not authenticate them: that is the API key's job",
        ),
    ] = "",
) -> str:
    return client_id


OwnerDep = Annotated[str, Depends(get_owner)]
