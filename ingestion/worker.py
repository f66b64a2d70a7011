"""Run the Celery worker: build the ingestion context once, load the model once per process."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery
from celery.signals import task_received, worker_process_init, worker_ready, worker_shutdown

from catalog import jobs
from catalog.database import Database
from catalog.migrate import migrate
from catalog.owners import new_owner
from ingestion import fork_guard, runtime
from ingestion.celery_app import create_celery
from ingestion.context import IngestionContext
from ingestion.metrics import MetricsRecorder, build_counter_store
from ingestion.queueing import INGEST_TASK
from ingestion.recovery import RecoveryLoop
from ingestion.settings import IngestionSettings, StorageSettings
from ingestion.storage import StoragePaths, build_stores
from ingestion.web import tasks as web_tasks
from ingestion.web.settings import UrlSettings
from vectorstore import EmbeddingSettings
from vectorstore.embedder_registry import build_embedder_registry

log = logging.getLogger(__name__)

POOL_CHILD_START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class WorkerConfig:
    broker_url: str
    database_url: str
    uploads_dir: Path
    tmp_dir: Path
    segments_dir: Path
    cache_dir: Path | None
    embedding: EmbeddingSettings
    ingestion: IngestionSettings
    concurrency: int = 1
    nice: int = 5
    log_level: str = "INFO"
    urls: UrlSettings = field(default_factory=UrlSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)


def build_context(config: WorkerConfig) -> IngestionContext:
    db = Database(config.database_url)
    migrate(db)
    # Nothing is loaded here (before the pool forks): each pool process loads the configured
    # preset's model at start, another preset's when a file of a KB built with it comes.
    embedders = build_embedder_registry(config.embedding, config.cache_dir, config.concurrency)
    stores = build_stores(
        config.storage, config.database_url, StoragePaths(config.uploads_dir, config.segments_dir, config.tmp_dir)
    )
    return IngestionContext(
        db=db,
        uploads=stores.uploads,
        segments=stores.segments,
        settings=config.ingestion,
        embedder_factory=embedders.get,
        keywords=stores.keywords,
        embedders=embedders,
    )


def run_worker(config: WorkerConfig) -> None:
    """Start a prefork worker consuming the ingestion queue (blocks until it stops)."""
    if config.nice:
        # The API shares these cores: it must stay responsive while we embed.
        os.nice(config.nice)
    # Parsers, OCR and their subprocesses write temp copies of documents (and page images); keep
    # them inside the data dir: a pool process killed mid-parse leaves them behind, and the
    # system temp dir is no place for private documents.
    config.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ["TMPDIR"] = str(config.tmp_dir)
    tempfile.tempdir = str(config.tmp_dir)
    fork_guard.install()
    context = build_context(config)
    runtime.install(context, MetricsRecorder(build_counter_store(config.broker_url, context.db)))
    web_tasks.install(config.urls)

    @worker_process_init.connect(weak=False)
    def _load_model_in_child(**_: object) -> None:
        context.db.write_engine.dispose(close=False)
        context.db.read_engine.dispose(close=False)
        context.embedder  # noqa: B018 - loads the model once per pool process

    app = create_celery(config.broker_url, config.ingestion)
    _watch_reservations(app, context.db, config)
    # A pool child loads the model before it reports for work. Celery gives a replacement child
    # 4 s to do so, then kills it and forks another: on a busy machine (or with a large model)
    # a worker whose child died once (killed, memory guard, time limit) never worked again.
    app.conf.worker_proc_alive_timeout = POOL_CHILD_START_TIMEOUT_S
    hostname = f"kb-worker-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            f"--loglevel={config.log_level}",
            f"--concurrency={config.concurrency}",
            "--pool=prefork",
            f"--hostname={hostname}",
            f"--queues={config.ingestion.queue_name}",
            "--without-mingle",
            "--without-gossip",
            "--task-events",
        ]
    )


def _watch_reservations(app: Celery, db: Database, config: WorkerConfig) -> None:
    """In the main process: record each received message on its file (a reservation renewed while
    this process lives), and run the recovery sweeper here too, so a dead worker's files — running
    or only prefetched — are sent again without an API process and without the broker's
    visibility timeout."""
    settings = config.ingestion
    owner = new_owner()
    loop = RecoveryLoop(
        app,
        db,
        config.broker_url,
        settings,
        every_tick=lambda: jobs.renew_reservations(db, owner, settings.lease_s),
        interval_s=min(settings.recovery_interval_s, settings.lease_s / 4),
    )

    @task_received.connect(weak=False)
    def _reserve(request: object, **_: object) -> None:
        args = getattr(request, "args", None) or ()
        if getattr(request, "name", None) == INGEST_TASK and args:
            try:
                jobs.reserve(db, int(args[0]), owner, settings.lease_s)
            except Exception:  # the sweeper's stale-queue pass still covers this file
                log.warning("could not record the reservation of file %s", args[0], exc_info=True)

    @worker_ready.connect(weak=False)
    def _start(**_: object) -> None:
        loop.start()

    @worker_shutdown.connect(weak=False)
    def _stop(**_: object) -> None:
        loop.stop()
