"""The long-lived objects of one API process, built once at start-up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from celery import Celery

from catalog.database import Database
from catalog.migrate import migrate
from ingestion.celery_app import create_celery
from ingestion.metrics import CounterStore, build_counter_store
from ingestion.storage import StoragePaths, build_stores
from ingestion.uploads import UploadStore
from ingestion.worker import WorkerConfig
from kb_server.runtime.paths import DataPaths
from kb_server.runtime.redis_server import discover_url
from kb_server.settings import Settings
from vectorstore import Embedder, KBIndexRegistry, SegmentStore
from vectorstore.embedder_registry import EmbedderRegistry, build_embedder_registry
from vectorstore.keyword_blocks import BlockKeywordIndex
from vectorstore.keyword_index import KeywordSegmentStore
from vectorstore.rerank import Reranker, build_reranker


class BrokerNotConfigured(RuntimeError):
    pass


def resolve_broker_url(settings: Settings, paths: DataPaths) -> str:
    """The configured broker (`broker_url`, else `redis_url`), or the embedded Redis a running
    `kb-server up` announced.

    Raises:
        BrokerNotConfigured: none of them exists.
    """
    if settings.broker_url or settings.redis_url:
        return str(settings.broker_url or settings.redis_url)
    url = discover_url(paths.redis)
    if url is None:
        raise BrokerNotConfigured(
            f"no broker: set KB_BROKER_URL (RabbitMQ) or KB_REDIS_URL, or start `kb-server up --data-dir {paths.root}` "
            "which runs an embedded Redis"
        )
    return url


def database_url(settings: Settings, paths: DataPaths) -> str:
    return settings.database_url or paths.database_url()


def worker_config(settings: Settings, broker_url: str) -> WorkerConfig:
    paths = DataPaths(settings.data_dir)
    return WorkerConfig(
        broker_url=broker_url,
        database_url=database_url(settings, paths),
        uploads_dir=paths.uploads,
        tmp_dir=paths.tmp,
        segments_dir=paths.kbs,
        cache_dir=paths.cache,
        embedding=settings.embedding,
        ingestion=settings.ingestion,
        concurrency=settings.worker.concurrency,
        nice=settings.worker.nice,
        log_level=settings.log_level,
        urls=settings.urls,
        storage=settings.storage,
    )


@dataclass
class Services:
    settings: Settings
    paths: DataPaths
    db: Database
    uploads: UploadStore
    segments: SegmentStore
    indexes: KBIndexRegistry
    embedder: Embedder  # the configured preset's: new KBs get it unless they ask for another
    embedders: EmbedderRegistry  # every preset's, loaded on first use: each KB is served by its own
    celery: Celery
    broker_url: str
    keywords: KeywordSegmentStore
    counters: CounterStore  # the workers' ingestion metrics: Redis, or the catalog with RabbitMQ
    reranker: Reranker | None = None
    keyword_indexes: dict[tuple[int, str], BlockKeywordIndex] = field(default_factory=dict)
    embed_lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        self.db.dispose()
        self.celery.close()


def build_services(settings: Settings, embedder: Embedder | None = None) -> Services:
    """Create the data dir, the catalog tables, the embedder and reranker (loads models) and the Celery client.

    Other presets' embedders are loaded when a KB built with one is first used.
    """
    paths = DataPaths(settings.data_dir)
    paths.ensure()
    broker_url = resolve_broker_url(settings, paths)
    db = Database(database_url(settings, paths), settings.database_busy_timeout_s)
    migrate(db)
    embedders = build_embedder_registry(
        settings.embedding, paths.cache, loaded={settings.embedding.preset: embedder} if embedder else None
    )
    embedder = embedders.get()
    stores = build_stores(settings.storage, db.url, StoragePaths(paths.uploads, paths.kbs, paths.tmp))
    return Services(
        settings=settings,
        paths=paths,
        db=db,
        uploads=stores.uploads,
        segments=stores.segments,
        indexes=KBIndexRegistry(stores.segments, embedder.dim, settings.vector_index),
        embedder=embedder,
        embedders=embedders,
        celery=create_celery(broker_url, settings.ingestion),
        broker_url=broker_url,
        keywords=stores.keywords,
        counters=build_counter_store(broker_url, db),
        reranker=build_reranker(settings.rerank),
    )
