"""Several knowledge bases in one request: the fusion of their hits, the request shapes, the names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kb_server.api.routes.openai import model_kbs
from kb_server.errors import InvalidInput
from kb_server.schemas import MAX_KBS, ChatRequest, KBSearchRequest, SearchHit
from kb_server.services.multi_search import fuse_hits
from kb_server.settings import OpenAICompatSettings

pytestmark = pytest.mark.unit


def hit(kb: str, chunk_id: int, score: float, text: str | None = None, rerank: float | None = None) -> SearchHit:
    return SearchHit(
        chunk_id=chunk_id,
        text=text or f"passage {kb} {chunk_id}",
        score=score,
        rerank_score=rerank,
        file_id=chunk_id >> 20,
        file_name=f"{kb}.md",
        metadata={},
        kb=kb,
    )


def test_hits_of_several_kbs_merge_on_score_best_first_top_k_in_all() -> None:
    en = [hit("en", 1, 0.9), hit("en", 2, 0.5), hit("en", 3, 0.2)]
    zh = [hit("zh", 11, 0.7), hit("zh", 12, 0.6), hit("zh", 13, 0.1)]

    fused = fuse_hits([en, zh], 4)

    assert [(h.kb, h.chunk_id) for h in fused] == [("en", 1), ("zh", 11), ("zh", 12), ("en", 2)]
    assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)


def test_ties_keep_the_order_of_the_kbs_then_each_kbs_own() -> None:
    fused = fuse_hits([[hit("a", 1, 0.5), hit("a", 2, 0.5)], [hit("b", 3, 0.5)]], 3)
    assert [h.chunk_id for h in fused] == [1, 2, 3]
    fused = fuse_hits([[hit("b", 3, 0.5)], [hit("a", 1, 0.5)]], 3)
    assert [h.kb for h in fused] == ["b", "a"]


def test_the_same_passage_in_two_kbs_is_kept_once_where_it_scored_best() -> None:
    same = "How do I install a package?\n\nUse pip."
    fused = fuse_hits([[hit("a", 1, 0.4, same)], [hit("b", 7, 0.8, " ".join(same.split()))]], 5)
    assert [(h.kb, h.chunk_id) for h in fused] == [("b", 7)]


def test_reranked_hits_merge_on_the_cross_encoders_score() -> None:
    a = [hit("a", 1, 0.9, rerank=0.2)]
    b = [hit("b", 2, 0.4, rerank=0.8)]
    assert [h.kb for h in fuse_hits([a, b], 2)] == ["b", "a"]
    # Not every hit reranked (one KB's past rerank.top_n): the retrieval score decides.
    assert [h.kb for h in fuse_hits([a, [hit("b", 2, 0.4)]], 2)] == ["a", "b"]


def test_no_hits_fuse_to_none() -> None:
    assert fuse_hits([[], []], 5) == []


def test_a_request_names_one_kb_or_several_never_both() -> None:
    assert KBSearchRequest(query="q", kb="a").kb_names == ["a"]
    assert KBSearchRequest(query="q", kbs=["a", "b", "a"]).kb_names == ["a", "b"]
    assert ChatRequest(question="q", kbs=["a", "b"]).kb_names == ["a", "b"]
    with pytest.raises(ValidationError, match="either `kb` or `kbs`, not both"):
        ChatRequest(question="q", kb="a", kbs=["b"])
    with pytest.raises(ValidationError, match="name the knowledge base"):
        KBSearchRequest(query="q")
    with pytest.raises(ValidationError, match="name the knowledge base"):
        ChatRequest(question="q")
    assert ChatRequest(question="q", conversation_id=1).kb_names == []  # the conversation's
    with pytest.raises(ValidationError):
        KBSearchRequest(query="q", kbs=[f"kb{i}" for i in range(MAX_KBS + 1)])


def test_a_combined_model_names_its_kbs_joined_by_plus() -> None:
    assert model_kbs("faq") == ["faq"]
    assert model_kbs("faq+manuals") == ["faq", "manuals"]
    with pytest.raises(InvalidInput):
        model_kbs("faq+")
    with pytest.raises(InvalidInput):
        model_kbs("+".join(f"kb{i}" for i in range(MAX_KBS + 1)))
    assert OpenAICompatSettings(combined_models=["a+b"]).combined_models == ["a+b"]
    with pytest.raises(ValidationError, match="two or more"):
        OpenAICompatSettings(combined_models=["a"])
