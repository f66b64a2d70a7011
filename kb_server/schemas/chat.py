"""Questions answered from knowledge bases, and follow-ups rewritten to stand alone."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from kb_server.schemas.common import MAX_ID
from kb_server.schemas.kbs import KBChoice


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
    fallback: str | None = Field(
        default=None,
        description='why a generate request was answered by quoting: "no_llm", no LLM is '
        'installed; "restated", the model only restated the question',
    )
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
    query: str = Field(description="what is searched: the rewrite, or with keywords the question as asked")
    context: str | None = Field(
        default=None,
        description="with keywords, the words carried from earlier turns: searched with `query`, weighted "
        "below its own words (the search endpoints' `context`)",
    )
