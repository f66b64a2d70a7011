"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from kb_server.api.error_handlers import install_error_handlers
from kb_server.api.http_metrics import HttpMetricsMiddleware
from kb_server.api.routes import cancel as cancel_router
from kb_server.api.routes import chat as chat_router
from kb_server.api.routes import conversations as conversations_router
from kb_server.api.routes import files as files_router
from kb_server.api.routes import health as health_router
from kb_server.api.routes import kbs as kbs_router
from kb_server.api.routes import metrics as metrics_router
from kb_server.api.routes import openai as openai_router
from kb_server.api.routes import reembed as reembed_router
from kb_server.api.routes import search as search_router
from kb_server.api.routes import tasks as tasks_router
from kb_server.api.routes import urls as urls_router
from kb_server.api.routes.ui import mount_ui
from kb_server.api.security import install_security
from kb_server.runtime.container import Services, build_services
from kb_server.services import kb_embedders
from kb_server.services.chat import ChatEngine
from kb_server.services.metrics import ApiMetrics
from kb_server.services.recovery import recovery_loop
from kb_server.settings import Settings


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the app; heavy objects (model, catalog, Celery client) are made once, at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = services or build_services(settings)
        app.state.services = built
        app.state.chat = ChatEngine.build(built)
        app.state.chat.metrics = metrics
        metrics.attach(built)
        app.state.embedder_warm_up = kb_embedders.warm_up(built)
        recovery = recovery_loop(built) if settings.recovery_enabled else None
        if recovery:
            recovery.start()
        try:
            yield
        finally:
            if recovery:
                recovery.stop()
            app.state.chat.close()
            if services is None:
                built.close()

    # /docs (Swagger UI) loads its scripts from the fastapi-offline package, served by this app, so
    # it works on a machine with no internet (FastAPI's default uses a CDN). No /redoc: ReDoc still
    # fetches its logo from a CDN.
    app = FastAPIOffline(
        redoc_url=None,
        title="kb-server",
        summary="A local, private knowledge-base server: upload files, search them, ask questions.",
        version="0.1.0",
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    install_security(app, settings)
    for module in (
        health_router,
        metrics_router,
        kbs_router,
        reembed_router,
        files_router,
        urls_router,
        cancel_router,
        search_router,
        tasks_router,
        chat_router,
        conversations_router,
        openai_router,
    ):
        app.include_router(module.router)
    mount_ui(app)
    return app
