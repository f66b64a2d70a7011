"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_serializer, field_validator, model_validator

from catalog.models import Conversation, File, KnowledgeBase, Message, ReembedJob
from vectorstore.settings import Preset

# Names are labels in the catalog and never become paths; still, keep them plain.
KB_NAME_PATTERN = r"^[\w][\w.\-]{0,63}$"
# Catalog ids are 32-bit integers on PostgreSQL: a larger one names nothing, and is refused as invalid.
MAX_ID = 2**31 - 1
# Knowledge bases one search or question may go to: each is searched with its own embedder.
MAX_KBS = 8


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ErrorBody(BaseModel):
    code: str
    detail: Any


class KBCreate(BaseModel):
    name: str = Field(pattern=KB_NAME_PATTERN, description="letters, digits, _ . - ; at most 64; no '..'")
    description: str = Field(default="", max_length=2000)
    embedding_preset: Preset | None = Field(
        default=None,
        description="the embedder this KB is built and searched with, for good: a bundled preset (minilm: English, "
        "fast; multilingual: Chinese and ~100 languages) or the configured one; null: `embedding.preset`",
    )

    @field_validator("name")
    @classmethod
    def _no_dot_dot(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("a name cannot contain '..'")
        return value


class KBPublic(BaseModel):
    name: str
    description: str
    embedder: str
    dim: int
    embedding_preset: str | None = Field(
        default=None, description="the embedding preset it was built with; null when no preset of this server's made it"
    )
    files: int = 0
    chunks: int = 0
    created_at: datetime

    @field_serializer("created_at")
    def _ser_time(self, value: datetime) -> str:
        return _utc(value).isoformat()

    @classmethod
    def of(cls, kb: KnowledgeBase, files: int = 0, chunks: int = 0, preset: str | None = None) -> KBPublic:
        return cls(
            name=kb.name,
            description=kb.description,
            embedder=kb.embedder,
            dim=kb.dim,
            embedding_preset=preset,
            files=files,
            chunks=chunks,
            created_at=kb.created_at,
        )


class KBList(BaseModel):
    kbs: list[KBPublic]


class ReembedCreate(BaseModel):
    preset: Preset = Field(description="the embedding preset to re-embed the knowledge base with")


class ReembedPublic(BaseModel):
    kb: str
    preset: str = Field(description="the preset the KB is being (or was) re-embedded with")
    from_preset: str | None = Field(description="the preset that served it before; null when none of this server's")
    embedder: str
    dim: int
    status: str = Field(description="running | done | failed | cancelled")
    files_total: int = Field(description="searchable files the switch waits for")
    files_done: int = Field(description="of them, those whose current chunks are embedded with the new preset")
    progress: float = Field(description="files_done / files_total (1.0 when done)")
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None

    @field_serializer("started_at", "finished_at")
    def _ser_time(self, value: datetime | None) -> str | None:
        return None if value is None else _utc(value).isoformat()

    @classmethod
    def of(cls, job: ReembedJob, kb: str) -> ReembedPublic:
        done = job.status == "done"
        total = job.files_total
        return cls(
            kb=kb,
            preset=job.preset,
            from_preset=job.from_preset,
            embedder=job.embedder,
            dim=job.dim,
            status=job.status,
            files_total=total,
            files_done=total if done else job.files_done,
            progress=1.0 if done or total == 0 else round(job.files_done / total, 4),
            error=job.error,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class UploadError(BaseModel):
    code: str
    detail: str


class FileAccepted(BaseModel):
    file_id: int | None
    name: str
    sha256: str | None
    status: Literal["queued", "duplicate", "rejected"]
    task_id: str | None
    error: UploadError | None = None
    # A new version of a document already in the KB (same name, other bytes): the file it replaces.
    version: int | None = None
    replaces: int | None = None


class UploadResult(BaseModel):
    files: list[FileAccepted]


class FilePublic(BaseModel):
    file_id: int
    name: str
    sha256: str
    size: int
    status: Literal["queued", "processing", "done", "failed", "cancelled"]
    stage: str | None
    progress: float
    chunks: int
    error: str | None
    error_code: str | None
    task_id: str | None
    attempts: int
    # Version of its document (files of one name): the file it replaces (deleted once this one is
    # done) and when it did; how many chunks the vector cache gave instead of the embedder.
    version: int
    replaces: int | None
    replaced_at: datetime | None
    cached_chunks: int
    source_url: str | None = Field(default=None, description="the web page the file was fetched from")
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _ser_time(self, value: datetime) -> str:
        return _utc(value).isoformat()

    @field_serializer("replaced_at")
    def _ser_optional_time(self, value: datetime | None) -> str | None:
        return _utc(value).isoformat() if value is not None else None

    @classmethod
    def of(cls, f: File) -> FilePublic:
        return cls(
            file_id=f.id,
            name=f.name,
            sha256=f.sha256,
            size=f.size,
            status=f.status,  # type: ignore[arg-type]
            stage=f.stage,
            progress=f.progress,
            chunks=f.chunks,
            error=f.error,
            error_code=f.error_code,
            task_id=f.task_id,
            attempts=f.attempts,
            version=f.version,
            replaces=f.replaces,
            replaced_at=f.replaced_at,
            cached_chunks=f.cached_chunks,
            source_url=f.source_url,
            created_at=f.created_at,
            updated_at=f.updated_at,
        )


class FileList(BaseModel):
    files: list[FilePublic]


class CancelRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="why; shown as the file's `error`")


class CancelPending(CancelRequest):
    file_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=10000, description="only these files; default: every queued or processing file"
    )


class CancelResult(BaseModel):
    cancelled: list[int] = Field(description="ids of the files cancelled by this request")


class TaskProgress(BaseModel):
    current: int
    total: int
    stage: str | None


class TaskPublic(BaseModel):
    task_id: str
    file_id: int
    state: str
    progress: TaskProgress
    result: dict[str, Any] | None = None
    error: str | None = None


class KBChoice(BaseModel):
    """One knowledge base (`kb`) or several (`kbs`), never both."""

    kb: str | None = Field(default=None, description="the knowledge base")
    kbs: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KBS,
        description=f"several knowledge bases (at most {MAX_KBS}), each searched with its own embedder; results "
        "fused on their 0..1 scores, best first, each naming its `kb`",
    )

    def _kb_required(self) -> bool:
        return True

    @model_validator(mode="after")
    def _one_way(self) -> KBChoice:
        if self.kb is not None and self.kbs is not None:
            raise ValueError("give either `kb` or `kbs`, not both")
        if self.kb is None and not self.kbs and self._kb_required():
            raise ValueError("name the knowledge base: `kb`, or several as `kbs`")
        return self

    @property
    def kb_names(self) -> list[str]:
        """The knowledge bases asked, in order, each once (none: left to the conversation)."""
        return list(dict.fromkeys(self.kbs or ([self.kb] if self.kb is not None else [])))


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=100)
    score_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="drop results scoring below this (0..1, higher is better)"
    )
    mode: Literal["dense", "keyword", "hybrid"] | None = Field(
        default=None, description="retriever; default `search.mode` (hybrid)"
    )
    tokenizer: Literal["auto", "simple"] | None = Field(
        default=None, description="keyword tokenizer, for evaluations; default `ingestion.keyword_tokenizer`"
    )
    rerank: bool | None = Field(
        default=None,
        description="re-order the best results with the configured cross-encoder (`rerank.model`); "
        "default: when one is configured. `true` without one is an error",
    )


class SearchHit(BaseModel):
    chunk_id: int
    text: str
    score: float = Field(description="0..1, higher is better: cosine, scaled BM25, or their weighted mean")
    rerank_score: float | None = Field(
        default=None,
        description="0..1, the cross-encoder's relevance (sigmoid of its output) when this hit was reranked; "
        "reranked hits come first, in this order",
    )
    file_id: int
    file_name: str
    source_url: str | None = Field(default=None, description="the web page the file was fetched from")
    metadata: dict[str, Any]
    kb: str | None = Field(default=None, description="the knowledge base it comes from")


class KBSearchRequest(KBChoice, SearchRequest):
    """A search of one knowledge base or several."""


class SearchResponse(BaseModel):
    results: list[SearchHit]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]
    detail: dict[str, str] = Field(default_factory=dict)


class Citation(BaseModel):
    n: int = Field(description="the number the answer cites as [n]")
    chunk_id: int = Field(description="the passage's best chunk")
    chunk_ids: list[int] = Field(
        default_factory=list, description="every chunk in the passage, in file order (several when neighbours merged)"
    )
    file_id: int
    file_name: str
    source_url: str | None = Field(default=None, description="the web page the file was fetched from")
    score: float = Field(description="the best retrieval score (0..1) among the passage's chunks")
    rerank_score: float | None = Field(default=None, description="the cross-encoder's 0..1 score, when reranked")
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    kb: str | None = Field(default=None, description="the knowledge base it comes from")


class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20000)


class ChatRequest(KBChoice):
    question: str = Field(min_length=1, max_length=4000)
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)
    top_k: int | None = Field(default=None, ge=1, le=20)
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    stream: bool = False
    mode: Literal["generate", "quote"] | None = Field(
        default=None, description="quote: the passages' most relevant sentences, cited, no LLM; null: chat.mode"
    )
    conversation_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="a server-side conversation: its recent turns are the history (`history` is ignored), and "
        "the question and its answer are appended to it; `kb`/`kbs` may be left out (the conversation's)",
    )
    turn_id: str | None = Field(
        default=None,
        pattern=r"^[\w.:\-]{1,64}$",
        description="with `conversation_id`: the client's id of this turn. Sent again (a retry), the stored "
        "answer comes back and nothing is generated or stored twice",
    )
    rewrite: bool = Field(
        default=True,
        description="search a follow-up as a standalone question (`chat.rewrite`); false: search it as asked",
    )

    @model_validator(mode="after")
    def _turn_in_a_conversation(self) -> ChatRequest:
        if self.turn_id is not None and self.conversation_id is None:
            raise ValueError("`turn_id` needs a `conversation_id`")
        return self

    def _kb_required(self) -> bool:
        return self.conversation_id is None


class AnswerSentence(BaseModel):
    text: str = Field(description="one sentence of the answer, without citation markers")
    citations: list[int] = Field(default_factory=list, description="the passages (`n`) that back it")
    unsupported: bool = Field(
        default=False, description="true when no passage holds enough of its words: the model may have invented it"
    )
    before: str = Field(
        default="",
        description="white space and markdown line syntax (line breaks, list bullets) before it; "
        "`before + text + [n]…` of every sentence, in order, is `answer`",
    )


class ChatResponse(BaseModel):
    answer: str
    citations: list[Citation]
    refused: bool = Field(description="true when the knowledge base has no answer (see refused_by)")
    refused_by: Literal["threshold", "model", "unsupported"] | None = Field(
        default=None,
        description="threshold: no passage scored enough (no model ran); model: the model said it has no answer; "
        "unsupported: the model answered, but no sentence of it is found in the passages",
    )
    mode: Literal["generate", "quote"] = Field(default="generate", description="what produced the answer")
    fallback: str | None = Field(default=None, description='"no_llm": generate was asked, no LLM is installed')
    sentences: list[AnswerSentence] = Field(
        default_factory=list, description="the answer sentence by sentence, with its citations; empty when refused"
    )
    unsupported: int = Field(default=0, description="how many sentences no passage supports")
    searched_for: str | None = Field(
        default=None,
        description="the follow-up rewritten to stand on its own, which is what was searched; null: searched as asked",
    )
    conversation_id: int | None = Field(default=None, description="the conversation the turn was stored in")


class RewriteRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)
    method: Literal["llm", "keywords"] | None = Field(default=None, description="null: `chat.rewrite`")


class RewriteResponse(BaseModel):
    question: str
    searched_for: str | None = Field(description="the question rewritten to stand alone; null: it is searched as asked")
    method: Literal["llm", "keywords"] | None = Field(
        description="what rewrote it (keywords also when the model could not); null: not rewritten"
    )


class ConversationCreate(KBChoice):
    title: str = Field(default="", max_length=200, description="empty: the first question, shortened")


class ConversationRename(BaseModel):
    title: str = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a title needs more than white space")
        return value


class ConversationPublic(BaseModel):
    id: int
    title: str = Field(description="empty until the first question when none was given")
    kb: str
    kbs: list[str]
    turns: int = Field(description="questions answered so far")
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _ser_time(self, value: datetime) -> str:
        return _utc(value).isoformat()

    @classmethod
    def of(cls, c: Conversation) -> ConversationPublic:
        kbs = list(c.kbs or [])
        return cls(
            id=c.id,
            title=c.title,
            kb=kbs[0] if kbs else "",
            kbs=kbs,
            turns=c.turns,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class MessagePublic(BaseModel):
    position: int
    role: Literal["user", "assistant"]
    content: str = Field(description="the question, or the answer as `ChatResponse.answer` gave it")
    citations: list[Citation] = Field(default_factory=list)
    sentences: list[AnswerSentence] = Field(default_factory=list)
    refused: bool = False
    refused_by: Literal["threshold", "model", "unsupported"] | None = None
    mode: Literal["generate", "quote"] | None = Field(default=None, description="of an answer: what produced it")
    fallback: str | None = None
    searched_for: str | None = Field(default=None, description="of an answer: what was searched, when rewritten")
    created_at: datetime

    @field_serializer("created_at")
    def _ser_time(self, value: datetime) -> str:
        return _utc(value).isoformat()

    @classmethod
    def of(cls, m: Message) -> MessagePublic:
        return cls.model_validate(
            {
                "position": m.position,
                "role": m.role,
                "content": m.content,
                "citations": m.citations or [],
                "sentences": m.sentences or [],
                "refused": m.refused,
                "refused_by": m.refused_by,
                "mode": m.mode,
                "fallback": m.fallback,
                "searched_for": m.searched_for,
                "created_at": m.created_at,
            }
        )


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]

    @classmethod
    def with_messages(cls, c: Conversation, messages: Sequence[Message]) -> ConversationDetail:
        public = ConversationPublic.of(c)
        return cls(**dict(public), messages=[MessagePublic.of(m) for m in messages])


class ConversationList(BaseModel):
    conversations: list[ConversationPublic]


class UrlSubmit(BaseModel):
    urls: list[str] = Field(min_length=1, description="http(s) URLs of pages (or, with `sitemap`, of sites)")
    depth: int = Field(default=0, ge=0, description="follow same-host links this many steps (at most `urls.max_depth`)")
    max_pages: int = Field(
        default=50, ge=1, description="pages fetched for the whole request (at most `urls.max_pages`)"
    )
    sitemap: bool = Field(
        default=False, description="read each URL's sitemap (the URL itself if it ends in .xml, else /sitemap.xml)"
    )
    refresh_s: int | None = Field(
        default=None,
        ge=0,
        description="fetch the pages again every this many seconds (at least `urls.min_refresh_s`), ingesting only "
        "those that changed, as new versions; 0: never; null: `urls.refresh_s` (off unless configured)",
    )


class UrlRefreshChange(BaseModel):
    refresh_s: int = Field(
        ge=0,
        description="fetch the pages again every this many seconds from now (at least `urls.min_refresh_s`); 0: never",
    )


class UrlAccepted(BaseModel):
    url: str = Field(description="as given")
    normalized: str | None = Field(default=None, description="the URL that is fetched (or the sitemap read)")
    status: Literal["accepted", "refused"]
    error: UploadError | None = Field(
        default=None, description="why it was refused: scheme, invalid_url, credentials, unresolvable, private_address"
    )


class UrlSubmitResult(BaseModel):
    request_id: str
    refresh_s: int | None = Field(description="how often its pages are fetched again (null: never)")
    urls: list[UrlAccepted]


class UrlPagePublic(BaseModel):
    url: str
    kind: Literal["page", "sitemap"]
    depth: int
    status: Literal["pending", "fetching", "fetched", "duplicate", "failed"]
    title: str | None
    file_id: int | None
    file_status: str | None = Field(description="the ingestion status of the page's file")
    chunks: int
    error_code: str | None
    error: str | None
    checked_at: datetime | None = Field(description="when the page was last asked of its site")
    next_refresh_at: datetime | None = Field(description="when it is fetched again (null: not scheduled)")

    @field_serializer("checked_at", "next_refresh_at")
    def _ser_optional_time(self, value: datetime | None) -> str | None:
        return _utc(value).isoformat() if value is not None else None


class UrlRequestPublic(BaseModel):
    request_id: str
    state: Literal["running", "done"] = Field(
        description="done: every page fetched or failed, and every fetched page's file ingested or failed"
    )
    depth: int
    max_pages: int
    pages_taken: int
    refresh_s: int | None = Field(description="how often its pages are fetched again (null: never)")
    pages: list[UrlPagePublic]
