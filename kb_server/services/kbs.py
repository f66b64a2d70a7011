"""Knowledge bases: create, list, read, delete (with everything they hold)."""

from __future__ import annotations

from catalog import repository
from catalog.models import KnowledgeBase
from kb_server.runtime.container import Services
from kb_server.services.files import release_blob
from kb_server.services.kb_embedders import creation_embedder


def create_kb(services: Services, name: str, description: str, preset: str | None = None) -> KnowledgeBase:
    """Create a KB built with `preset`'s embedder (default the configured one), for good.

    Raises:
        Conflict: the name is taken.
        InvalidInput: the preset cannot be served here.
        EmbedderUnavailable: its model cannot be loaded here.
    """
    embedder = creation_embedder(services, preset)
    return repository.create_kb(services.db, name, description, embedder.identity, embedder.dim)


def list_kbs(services: Services) -> list[tuple[KnowledgeBase, int, int]]:
    return repository.list_kbs(services.db)


def get_kb(services: Services, name: str) -> tuple[KnowledgeBase, int, int]:
    kb = repository.get_kb(services.db, name)
    for row in repository.list_kbs(services.db):
        if row[0].id == kb.id:
            return row
    return kb, 0, 0


def delete_kb(services: Services, name: str) -> None:
    """Delete the catalog rows first (search stops seeing the KB at once), then the files."""
    kb = repository.get_kb(services.db, name)
    shas = repository.delete_kb(services.db, kb.id)
    services.indexes.forget(kb.id)
    for key in [k for k in services.keyword_indexes if k[0] == kb.id]:
        services.keyword_indexes.pop(key, None)
    services.segments.delete_kb(kb.id)
    for sha in set(shas):
        release_blob(services, sha)
