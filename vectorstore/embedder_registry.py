"""One embedder per preset in a process, each loaded on first use: a KB is served by the embedder it
was built with, whatever the configured preset.

The configured `embedding` section is the default preset's, as written (its model directory, pooling
and prefixes). Another preset runs its bundled weights with the same runtime settings (backend,
threads, cache, vector cache); only presets with bundled weights (`minilm`, `multilingual`) can be
asked for besides the configured one. A KB's recorded identity names the embedder (`bundled:<preset>`
or the configured model), which is how a KB finds its preset again (`preset_of`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from vectorstore.embedder_protocol import Embedder
from vectorstore.embedders import build_embedder
from vectorstore.errors import EmbedderUnavailable
from vectorstore.model_spec import same_vector_space
from vectorstore.settings import EmbeddingSettings

BUNDLED_PRESETS = ("minilm", "multilingual")
BUNDLED_PREFIX = "bundled:"

Loader = Callable[[EmbeddingSettings], Embedder]


def identity_preset(recorded: str, configured: EmbeddingSettings) -> str | None:
    """The preset whose embedder wrote a KB recorded as `recorded`; None when none of this server's can."""
    name = recorded.split("|", 1)[0]
    if name.startswith(BUNDLED_PREFIX) and name.removeprefix(BUNDLED_PREFIX) in BUNDLED_PRESETS:
        preset = name.removeprefix(BUNDLED_PREFIX)
        # A configured model directory under a bundled preset's name is another model.
        return preset if preset != configured.preset or configured.model is None else None
    if configured.model is not None and name == configured.model:
        return configured.preset
    return None


class EmbedderRegistry:
    """The embedders of one process, by preset; thread-safe, each built at most once."""

    def __init__(self, settings: EmbeddingSettings, load: Loader, loaded: Mapping[str, Embedder] | None = None) -> None:
        self.settings = settings
        self._load = load
        self._embedders: dict[str, Embedder] = dict(loaded or {})
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def default_preset(self) -> str:
        return self.settings.preset

    def presets(self) -> tuple[str, ...]:
        """The presets a KB can be created with here: the configured one first."""
        return (self.default_preset, *(p for p in BUNDLED_PRESETS if p != self.default_preset))

    def settings_for(self, preset: str) -> EmbeddingSettings:
        """The embedding settings of `preset`: the configured ones, or its bundled model's.

        Raises:
            EmbedderUnavailable: `preset` has no bundled weights and is not the configured one.
        """
        if preset == self.default_preset:
            return self.settings
        if preset not in BUNDLED_PRESETS:
            raise EmbedderUnavailable(
                f"embedding preset {preset!r} has no bundled weights: only {', '.join(self.presets())} can be "
                "used here (configure it as embedding.preset with embedding.model to serve it)"
            )
        reset = {"preset": preset, "model": None, "pooling": None, "query_instruction": None}
        return self.settings.model_copy(update={**reset, "document_prefix": None, "max_seq_length": None})

    def get(self, preset: str | None = None) -> Embedder:
        """The embedder of `preset` (default: the configured one), loaded on first use.

        Loading one preset does not hold up callers of another.

        Raises:
            EmbedderUnavailable: the preset is unknown here, or its model cannot be loaded.
        """
        preset = preset or self.default_preset
        embedder = self._embedders.get(preset)
        if embedder is not None:
            return embedder
        settings = self.settings_for(preset)
        with self._guard:
            lock = self._locks.setdefault(preset, threading.Lock())
        with lock:
            embedder = self._embedders.get(preset)
            if embedder is None:
                embedder = self._embedders[preset] = self._load(settings)
            return embedder

    def loaded(self) -> dict[str, Embedder]:
        return dict(self._embedders)

    def preset_of(self, recorded: str) -> str | None:
        """The preset of a KB recorded as `recorded` (see `identity_preset`)."""
        return identity_preset(recorded, self.settings)

    def for_kb(self, recorded: str, dim: int) -> Embedder | None:
        """The embedder whose vectors a KB recorded as (`recorded`, `dim`) holds; None when no preset
        here makes them (another model, other weights).

        Raises:
            EmbedderUnavailable: the KB's preset is known, but its model cannot be loaded here.
        """
        preset = self.preset_of(recorded)
        if preset is None:
            return None
        embedder = self.get(preset)
        return embedder if same_vector_space(recorded, embedder.identity, dim, embedder.dim) else None


def build_embedder_registry(
    settings: EmbeddingSettings,
    cache_dir: Path | None = None,
    processes: int = 1,
    loaded: Mapping[str, Embedder] | None = None,
) -> EmbedderRegistry:
    """A registry that builds each preset's embedder with `build_embedder` (see there for the
    arguments); `loaded` are embedders already built, by preset."""
    return EmbedderRegistry(settings, lambda s: build_embedder(s, cache_dir=cache_dir, processes=processes), loaded)
