"""Re-embedding a knowledge base with another preset's embedder, in the background.

The API records the job and sends one staging task per file; the workers do the rest
(ingestion/reembed.py): the old embedder and segments serve every search until the last file is
staged and the KB switches, in one catalog write, to the new embedder and segments.
"""

from __future__ import annotations

from catalog import reembed, repository
from catalog.errors import Conflict, NotFound
from catalog.models import ReembedJob, ReembedStatus
from ingestion.reembed import fail, finish
from ingestion.reembed_tasks import send_reembed
from kb_server.errors import InvalidInput, ServiceUnavailable
from kb_server.runtime.container import Services
from kb_server.services.kb_embedders import creation_embedder, kb_preset
from vectorstore.model_spec import same_vector_space


def start_reembed(services: Services, kb_name: str, preset: str) -> ReembedJob:
    """Start re-embedding the KB with `preset`'s embedder (loaded here first: the API embeds the
    queries with it after the switch).

    Raises:
        NotFound: no such knowledge base.
        InvalidInput: the preset cannot be served here, or already makes the KB's vectors.
        Conflict: a re-embed of the KB is running (`reembed_running`).
        EmbedderUnavailable: the preset's model cannot be loaded here.
        ServiceUnavailable: the broker did not take the work (the job is failed, nothing changed).
    """
    kb = repository.get_kb(services.db, kb_name)
    embedder = creation_embedder(services, preset)
    if same_vector_space(kb.embedder, embedder.identity, kb.dim, embedder.dim):
        raise InvalidInput(
            f"knowledge base {kb.name!r} is already embedded with {preset}", code="reembed_same_embedder"
        )
    job, files = reembed.start(services.db, kb.id, preset, embedder.identity, embedder.dim, kb_preset(services, kb))
    for file_id, _ in files:
        if not send_reembed(services.celery, job.id, file_id):
            fail(services.db, services.segments, job, "the broker did not take the re-embed tasks")
            raise ServiceUnavailable("the broker is unreachable: the re-embed was not started", retry_after=5)
    if not files:  # nothing to stage: switch now
        finish(services.db, services.segments, job.id)
    return reembed.get(services.db, job.id) or job


def read_reembed(services: Services, kb_name: str) -> ReembedJob:
    """The KB's latest re-embed job.

    Raises:
        NotFound: no such knowledge base, or it was never re-embedded (`reembed_not_found`).
    """
    kb = repository.get_kb(services.db, kb_name)
    job = reembed.latest(services.db, kb.id)
    if job is None:
        raise NotFound(f"knowledge base {kb.name!r} has no re-embed", code="reembed_not_found")
    return job


def cancel_reembed(services: Services, kb_name: str) -> ReembedJob:
    """Cancel the KB's running re-embed: its staged vectors are dropped, the old ones keep serving.

    Raises:
        NotFound: no such knowledge base.
        Conflict: no re-embed of it is running (`reembed_not_running`).
    """
    kb = repository.get_kb(services.db, kb_name)
    job = reembed.running(services.db, kb.id)
    if job is None or not fail(services.db, services.segments, job, "cancelled by request", ReembedStatus.CANCELLED):
        raise Conflict(f"no re-embed of knowledge base {kb.name!r} is running", code="reembed_not_running")
    return reembed.get(services.db, job.id) or job


def after_file_left(services: Services, kb_id: int) -> None:
    """A file left the KB (deleted, cancelled): it may have been the last one a running job waited for."""
    job = reembed.running(services.db, kb_id)
    if job is not None:
        finish(services.db, services.segments, job.id)
