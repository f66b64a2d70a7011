"""Which embedder serves a knowledge base: the one it was built with, from this process's registry.

A KB records its embedder's identity when it is made (`create_kb` takes the preset, default the
configured one); searching it, uploading to it and ingesting into it all use that embedder again,
whatever the configured preset. A KB whose embedder no preset here makes is refused (409
`embedder_mismatch`); one whose preset is known but whose model cannot be loaded here is a 503
(`embedder_unavailable`, from `EmbedderUnavailable`).
"""

from __future__ import annotations

import logging
import threading

from catalog import repository
from catalog.errors import EmbedderMismatch
from catalog.models import KnowledgeBase
from kb_server.errors import InvalidInput
from kb_server.runtime.container import Services
from vectorstore import Embedder
from vectorstore.embedder_registry import BUNDLED_PREFIX
from vectorstore.errors import EmbedderUnavailable

log = logging.getLogger(__name__)


def creation_embedder(services: Services, preset: str | None) -> Embedder:
    """The embedder a new KB is built with: `preset`'s, default the configured one (loaded if need be).

    Raises:
        InvalidInput: `preset` cannot be served by this server (no bundled weights, not configured).
        EmbedderUnavailable: its model cannot be loaded here.
    """
    registry = services.embedders
    preset = preset or registry.default_preset
    if preset not in registry.presets():
        raise InvalidInput(
            f"embedding preset {preset!r} cannot be used here: choose one of {', '.join(registry.presets())} "
            "(another preset needs its model configured as embedding.preset and embedding.model)",
            code="embedding_preset_unavailable",
        )
    return registry.get(preset)


def kb_preset(services: Services, kb: KnowledgeBase) -> str | None:
    """The preset that serves `kb` here; None when none does."""
    return services.embedders.preset_of(kb.embedder)


def kb_embedder(services: Services, kb: KnowledgeBase) -> tuple[str, Embedder]:
    """The KB's preset and its embedder, loaded on first use.

    Raises:
        EmbedderMismatch: no embedder here makes the KB's vectors (another model, other weights).
        EmbedderUnavailable: the KB's preset is known but its model cannot be loaded here.
    """
    embedder = services.embedders.for_kb(kb.embedder, kb.dim)
    preset = kb_preset(services, kb)
    if embedder is None or preset is None:
        raise _mismatch(services, kb)
    return preset, embedder


def warm_up(services: Services) -> threading.Thread:
    """Load, in the background, the embedders of the presets existing KBs were built with, so their
    first search does not wait for a model load (or, once per machine, an int8 build)."""

    def load() -> None:
        presets = {kb_preset(services, kb) for kb, _, _ in repository.list_kbs(services.db)}
        for preset in sorted(p for p in presets if p is not None and p != services.embedders.default_preset):
            try:
                services.embedders.get(preset)
            except EmbedderUnavailable as exc:  # its KBs answer 503 with this reason
                log.warning("the %s embedder cannot be loaded: %s", preset, exc)
            except Exception:  # best effort: the first search loads it, or says why it cannot
                log.exception("warming up the %s embedder failed", preset)

    thread = threading.Thread(target=load, name="embedder-warm-up", daemon=True)
    thread.start()
    return thread


def _mismatch(services: Services, kb: KnowledgeBase) -> EmbedderMismatch:
    built_with = kb.embedder.split("|", 1)[0]
    preset = built_with.removeprefix(BUNDLED_PREFIX) if built_with.startswith(BUNDLED_PREFIX) else None
    how = f" (embedding.preset: {preset}, KB_EMBEDDING__PRESET={preset})" if preset else ""
    default = services.embedder
    return EmbedderMismatch(
        f"knowledge base {kb.name!r} was built with {built_with} ({kb.dim}-d vectors), which this server cannot "
        f"load (its embedder is {default.name}, {default.dim}-d): run it with the KB's embedder{how}, or make a "
        "new knowledge base and ingest the files again"
    )
