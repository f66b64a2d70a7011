"""Prometheus metrics of one API process, plus what workers recorded and the catalog holds.

API-side series (HTTP latency by route, chat latency and tokens) live in this process's registry.
Fleet-wide figures — files by status, chunks per KB, queue depth, ingestion time per stage and
ingestion outcomes — are read at scrape time from the catalog, the broker and the workers'
counters (in Redis with a Redis broker, else in the catalog), so any API process reports the same
numbers whichever worker did the work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from catalog.models import File, KnowledgeBase
from ingestion.broker import queue_depth
from ingestion.metrics import STAGE_BUCKETS, read_outcomes, read_stage_histograms
from kb_server.runtime.container import Services

log = logging.getLogger(__name__)

STAGES = ("parsing", "chunking", "embedding", "indexing")
STATUSES = ("queued", "processing", "done", "failed", "cancelled")


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http = Histogram(
            "kb_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.chat_seconds = Histogram(
            "kb_chat_duration_seconds",
            "time to answer a chat request (retrieval and generation)",
            ["mode"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.chat_first_token = Histogram(
            "kb_chat_time_to_first_token_seconds",
            "time to the first streamed token",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
        )
        self.chat_tokens = Counter("kb_chat_tokens", "LLM tokens", ["kind"], registry=self.registry)
        self.chat_suspected_false_refusals = Counter(
            "kb_chat_suspected_false_refusals",
            "the model said it had no answer while a passage scored at least chat.false_refusal_min_score",
            registry=self.registry,
        )
        self.chat_sentences = Counter(
            "kb_chat_sentences",
            "answer sentences, by whether a passage supports them",
            ["support"],
            registry=self.registry,
        )
        self.chat_requests = Counter(
            "kb_chat_requests", "chat requests by outcome", ["outcome"], registry=self.registry
        )

    def attach(self, services: Services) -> None:
        self.registry.register(FleetCollector(services))


class FleetCollector(Collector):
    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        services = self._services
        files = GaugeMetricFamily("kb_files", "files by ingestion status", labels=["status"])
        chunks = GaugeMetricFamily("kb_chunks", "chunks per knowledge base", labels=["kb"])
        with services.db.read() as s:
            counts = dict(s.execute(select(File.status, func.count(File.id)).group_by(File.status)).all())
            per_kb = s.execute(
                select(KnowledgeBase.name, func.coalesce(func.sum(File.chunks), 0))
                .outerjoin(File, (File.kb_id == KnowledgeBase.id) & (File.status == "done"))
                .group_by(KnowledgeBase.name)
            ).all()
        for status in STATUSES:
            files.add_metric([status], counts.get(status, 0))
        for name, n in per_kb:
            chunks.add_metric([name], n)
        yield files
        yield chunks
        try:
            depth = queue_depth(services.broker_url, services.settings.ingestion.queue_name, timeout_s=1.0)
        except Exception:
            log.debug("queue depth unavailable", exc_info=True)
        else:
            yield GaugeMetricFamily("kb_queue_depth", "ingestion messages waiting in the broker", value=depth)
        try:
            stages = read_stage_histograms(services.counters, STAGES)
            outcomes = read_outcomes(services.counters)
        except Exception:
            log.debug("ingestion metrics unavailable", exc_info=True)
            return
        hist = HistogramMetricFamily("kb_ingest_stage_seconds", "time per ingestion stage", labels=["stage"])
        for stage, data in stages.items():
            buckets = [(str(b), data.get(f"le:{b}", 0.0)) for b in STAGE_BUCKETS]
            buckets.append(("+Inf", data.get("count", 0.0)))
            hist.add_metric([stage], buckets, data.get("sum", 0.0))
        yield hist
        done = CounterMetricFamily("kb_files_ingested", "ingestion runs by outcome", labels=["outcome"])
        for outcome, runs in sorted(outcomes.items()):
            done.add_metric([outcome], runs)
        yield done
