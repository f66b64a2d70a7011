"""The root settings model: defaults, then `configs/*.yaml`, then `KB_*` environment variables.

Every package owns its section (`vectorstore.EmbeddingSettings`, `ingestion.IngestionSettings`,
`llm.LLMSettings`); this module only composes them. Nested keys use `__` in the environment:
`KB_EMBEDDING__PRESET=bge-small-zh`, `KB_INGESTION__CHUNK_SIZE=500`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from catalog.database import SQLITE_BUSY_TIMEOUT_S
from ingestion.settings import IngestionSettings, StorageSettings
from ingestion.web.settings import UrlSettings
from llm.settings import LLMSettings
from vectorstore.settings import EmbeddingSettings, RerankSettings, VectorIndexSettings


def _default_config_file() -> Path:
    # An installed wheel carries configs/default.yaml inside the package (pyproject's package-dir
    # maps it there); a source checkout reads the one at the top of the tree.
    here = Path(__file__).resolve().parent
    packaged = here / "configs" / "default.yaml"
    return packaged if packaged.exists() else here.parent / "configs" / "default.yaml"


PROJECT_CONFIG = _default_config_file()


class WorkerSettings(BaseModel):
    concurrency: int = Field(
        default=2, ge=1, description="worker processes; each loads the model (2 measured 1.6x faster than 1 on 2 cores)"
    )
    nice: int = Field(default=5, ge=0, le=19, description="lower worker CPU priority so the API stays fast")
    shutdown_grace_s: float = Field(default=15.0, ge=0)


class SearchSettings(BaseModel):
    default_top_k: int = Field(default=5, ge=1)
    max_top_k: int = Field(default=100, ge=1)
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    dense_weight: float = Field(default=0.6, ge=0.0, le=1.0, description="hybrid: dense share; keyword gets the rest")
    cjk_dense_weight: float = Field(
        default=0.1, ge=0.0, le=1.0, description="dense share for Chinese queries when the embedder reads no Chinese"
    )
    context_share: float = Field(
        default=0.5,
        ge=0.0,
        lt=1.0,
        description="keyword search: share of the query's weight that words carried from earlier turns get "
        "together (a follow-up's own words get the rest)",
    )
    candidates: int = Field(default=50, ge=1, description="results taken from each retriever before fusion")
    dedupe_similarity: float = Field(
        default=0.9, gt=0.0, le=1.0, description="drop hits this similar to a better one (1.0: keep all)"
    )


class ChatSettings(BaseModel):
    top_k: int = Field(default=3, ge=1, le=20, description="passages given to the LLM")
    score_threshold: float = Field(
        default=0.35, ge=0.0, le=1.0, description="below this no passage counts: the KB has no answer"
    )
    generation_nice: int = Field(default=10, ge=0, le=19, description="lower CPU priority of LLM threads")
    merge_neighbours: bool = Field(
        default=True,
        description="consecutive chunks of one file among the passages become one passage (on the Python FAQ: "
        "the answer whole in one passage for 83 % of questions instead of 56 %, 4 % less text)",
    )
    mode: Literal["generate", "quote"] = Field(
        default="generate",
        description="quote: answer with the passages' most relevant sentences, cited, no LLM (also the fallback "
        "when no LLM is installed)",
    )
    false_refusal_min_score: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="a model refusal while a passage scored at least this counts as a suspected false refusal",
    )
    passage_tokens: int = Field(
        default=250,
        ge=0,
        description="passages given to the LLM are cut to about this many tokens in all, keeping the heading and "
        "the sentences from the best match on (0: whole); prompt processing is most of the time to first token",
    )
    rewrite: Literal["llm", "keywords", "off"] = Field(
        default="keywords",
        description="a follow-up is searched as a standalone question: llm (the chat model rewrites it from the "
        "recent turns; key terms carried when it cannot), keywords (the previous question's key terms carried "
        "into a follow-up that looks dependent, no model), off; `rewrite: false` per request turns it off",
    )
    rewrite_max_tokens: int = Field(default=48, ge=8, le=256, description="new tokens of an LLM rewrite at most")
    rewrite_timeout_s: float = Field(
        default=8.0, gt=0, description="an LLM rewrite not done by then is dropped for the key-terms one"
    )


class OpenAICompatSettings(BaseModel):
    """The OpenAI-compatible endpoint (`/v1`): every knowledge base is a model, and so is each combination here."""

    combined_models: list[str] = Field(
        default_factory=list,
        description='models over several KBs, listed by /v1/models: names joined by "+" (e.g. "faq+manuals"); '
        "chat completions accept any such combination of existing KBs",
    )

    @field_validator("combined_models")
    @classmethod
    def _several_names(cls, value: list[str]) -> list[str]:
        for model in value:
            names = model.split("+")
            if len(names) < 2 or not all(names):
                raise ValueError(f'{model!r}: a combined model names two or more knowledge bases joined by "+"')
        return value


class LimitSettings(BaseModel):
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1, description="one uploaded file (413 past it)")
    max_request_bytes: int = Field(default=1024 * 1024 * 1024, ge=1, description="one upload request (413)")
    max_files_per_request: int = Field(default=200, ge=1)
    max_pending_files: int = Field(
        default=10000, ge=1, description="queued + processing files; uploads past it get 429 with Retry-After"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KB_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8077, ge=0, le=65535)
    data_dir: Path = Path("data")
    redis_url: str | None = Field(default=None, description="unset: kb-server runs its own Redis")
    broker_url: str | None = Field(
        default=None,
        description="the Celery broker when it is not that Redis, e.g. amqp://user:pass@host:5672/vhost "
        "(RabbitMQ); set, it wins over redis_url and kb-server uses no Redis at all",
    )
    database_url: str | None = Field(default=None, description="unset: SQLite in the data dir")
    database_busy_timeout_s: float = Field(
        default=SQLITE_BUSY_TIMEOUT_S,
        gt=0,
        description="SQLite: how long the API waits for another process's write before answering 503 database_busy",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(default="text", description="json: one object per line")
    recovery_enabled: bool = True
    api_key: SecretStr | None = Field(
        default=None, description="when set, every endpoint but /healthz and /readyz needs it (X-API-Key or Bearer)"
    )
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed to call the API")
    trusted_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1", "[::1]"],
        description="Host headers accepted (a guard against DNS rebinding); add your name when serving on a network",
    )

    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    vector_index: VectorIndexSettings = Field(default_factory=VectorIndexSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    openai: OpenAICompatSettings = Field(default_factory=OpenAICompatSettings)
    urls: UrlSettings = Field(default_factory=UrlSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    @model_validator(mode="after")
    def _database_storage_needs_postgresql(self) -> Self:
        if self.storage.backend == "database" and not (self.database_url or "").startswith("postgresql"):
            raise ValueError(
                "storage.backend: database keeps the bytes in the catalog's PostgreSQL: set database_url "
                "(KB_DATABASE_URL=postgresql+psycopg://...); on SQLite keep storage.backend: local"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_sources = [YamlConfigSettingsSource(settings_cls, yaml_file=p) for p in reversed(_config_files())]
        return (init_settings, env_settings, *yaml_sources)


_extra_config: list[Path] = []


def _config_files() -> list[Path]:
    files = [PROJECT_CONFIG] if PROJECT_CONFIG.exists() else []
    env = os.environ.get("KB_CONFIG")
    if env:
        files += [Path(p) for p in env.split(os.pathsep) if p]
    return files + _extra_config


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings; later config files and then the environment win over earlier files.

    Raises:
        pydantic.ValidationError: a value is invalid; the message names the key.
        FileNotFoundError: `config` does not exist.
    """
    global _extra_config
    if config is not None and not config.exists():
        raise FileNotFoundError(f"config file {config} does not exist")
    _extra_config = [config] if config else []
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _extra_config = []
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings
