"""A question in a conversation is answered after its stored turns, and its answer is stored as the UI shows it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from catalog import Database
from catalog import conversations as repo
from kb_server.runtime.container import Services
from kb_server.schemas import AnswerSentence, ChatResponse, Citation
from kb_server.services import conversations as service

pytestmark = pytest.mark.unit

SENT = [{"role": "user", "content": "what the client says it asked"}]
CITATION = Citation(n=1, chunk_id=7, file_id=1, file_name="bees.md", score=0.8, text="Bees make honey.")


def _answer(text: str) -> ChatResponse:
    sentence = AnswerSentence(text=text, citations=[1])
    return ChatResponse(answer=f"{text}[1]", citations=[CITATION], refused=False, sentences=[sentence])


def test_the_conversation_s_turns_replace_the_client_s_history(db: Database) -> None:
    services = cast(Services, SimpleNamespace(db=db))
    cid = repo.create_conversation(db, "alice", ["bees"]).id
    assert service.chat_history(services, "alice", None, SENT) == SENT
    assert service.chat_history(services, "alice", cid, SENT) == []

    service.recorder(services, "alice", cid, "  How do bees make honey?\n")(_answer("From nectar."))
    service.recorder(services, "alice", None, "not kept")(_answer("Nowhere."))

    assert service.chat_history(services, "alice", cid, SENT) == [
        {"role": "user", "content": "  How do bees make honey?\n"},
        {"role": "assistant", "content": "From nectar.[1]"},
    ]
    conversation, messages = repo.get_conversation(db, "alice", cid)
    assert conversation.title == "How do bees make honey?"
    assert messages[1].citations == [CITATION.model_dump(mode="json")]
    assert messages[1].sentences == [AnswerSentence(text="From nectar.", citations=[1]).model_dump(mode="json")]
    assert (messages[1].refused, messages[1].refused_by) == (False, None)
