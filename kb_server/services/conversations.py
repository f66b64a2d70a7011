"""Conversations kept on the server: create, list, read, rename, delete; chat history and turns.

`owner` is the client a conversation belongs to (the `X-Client-Id` header, "" without one): every
call names it, and another owner's conversation is reported as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from catalog import conversations as repository
from catalog import repository as kb_repository
from catalog.conversations import NewMessage
from catalog.errors import Conflict
from catalog.models import Conversation, Message
from kb_server.runtime.container import Services
from kb_server.schemas import ChatResponse, MessagePublic

# The prompt keeps the last few turns (llm.prompts.trim_history); read a little more than it uses.
HISTORY_MESSAGES = 12
TITLE_CHARS = 60


def default_title(question: str) -> str:
    """The question on one line, cut at a word to at most `TITLE_CHARS` characters."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def create(services: Services, owner: str, kbs: str | Sequence[str], title: str = "") -> Conversation:
    """Raises: NotFound (no such knowledge base)."""
    names = [kbs] if isinstance(kbs, str) else list(kbs)
    for name in names:
        kb_repository.get_kb(services.db, name)
    return repository.create_conversation(services.db, owner, names, " ".join(title.split()))


def list_conversations(services: Services, owner: str, limit: int, offset: int) -> Sequence[Conversation]:
    return repository.list_conversations(services.db, owner, limit, offset)


def get(services: Services, owner: str, conversation_id: int) -> tuple[Conversation, Sequence[Message]]:
    """Raises: NotFound."""
    return repository.get_conversation(services.db, owner, conversation_id)


def rename(services: Services, owner: str, conversation_id: int, title: str) -> Conversation:
    """Raises: NotFound."""
    return repository.rename_conversation(services.db, owner, conversation_id, " ".join(title.split()))


def delete(services: Services, owner: str, conversation_id: int) -> None:
    """Raises: NotFound."""
    repository.delete_conversation(services.db, owner, conversation_id)


def history(services: Services, owner: str, conversation_id: int) -> list[dict[str, str]]:
    """The recent turns as chat history, oldest first.

    Raises:
        NotFound: no such conversation of this owner.
    """
    messages = repository.recent_messages(services.db, owner, conversation_id, HISTORY_MESSAGES)
    return [{"role": m.role, "content": m.content} for m in messages]


def chat_history(
    services: Services, owner: str, conversation_id: int | None, sent: list[dict[str, str]]
) -> list[dict[str, str]]:
    """What a question is answered after: the conversation's recent turns when it names one (the
    client's `history` is ignored then), otherwise the client's.

    Raises:
        NotFound: no such conversation of this owner.
    """
    return sent if conversation_id is None else history(services, owner, conversation_id)


def resolve_kbs(services: Services, owner: str, conversation_id: int | None, kbs: list[str]) -> list[str]:
    """The knowledge bases a question goes to: those named, or the conversation's when none are.

    Raises:
        NotFound: no such conversation of this owner.
        Conflict: a KB named is not one of the conversation's (`conversation_kb_mismatch`).
    """
    if conversation_id is None:
        return kbs
    asked = repository.conversation_kbs(services.db, owner, conversation_id)
    if not kbs:
        return asked
    if other := [kb for kb in kbs if kb not in asked]:
        raise Conflict(
            f"conversation {conversation_id} asks {', '.join(asked)}, not {', '.join(other)}: leave `kb`/`kbs` out "
            "or start a new conversation",
            code="conversation_kb_mismatch",
        )
    return kbs


def stored_answer(
    services: Services, owner: str, conversation_id: int | None, turn_id: str | None, question: str
) -> ChatResponse | None:
    """The answer already stored for this turn id (a retry), or None.

    Raises:
        NotFound: no such conversation of this owner.
        Conflict: the turn id was used for another question (`turn_id_reused`).
    """
    if conversation_id is None or turn_id is None:
        return None
    stored = repository.find_turn(services.db, owner, conversation_id, turn_id)
    if stored is None:
        return None
    asked, reply = stored
    if asked.content != question:
        raise Conflict(
            f"turn {turn_id} of conversation {conversation_id} asked another question", code="turn_id_reused"
        )
    return as_response(asked, reply, conversation_id)


def as_response(asked: Message, reply: Message, conversation_id: int) -> ChatResponse:
    """A stored turn as `POST /api/chat` answered it."""
    public = MessagePublic.of(reply)
    return ChatResponse(
        answer=reply.content,
        citations=public.citations,
        refused=reply.refused,
        refused_by=public.refused_by,
        mode="quote" if reply.mode == "quote" else "generate",
        fallback=reply.fallback,
        sentences=public.sentences,
        unsupported=sum(s.unsupported for s in public.sentences),
        searched_for=reply.searched_for,
        conversation_id=conversation_id,
    )


def recorder(
    services: Services, owner: str, conversation_id: int | None, question: str, turn_id: str | None = None
) -> Callable[[ChatResponse], ChatResponse]:
    """What to call with the answer once it is settled: stores the turn (outside a conversation,
    nothing) and returns the answer to send — the stored one when a copy of the turn won a race."""

    def keep(answer: ChatResponse) -> ChatResponse:
        if conversation_id is None:
            return answer
        return record(services, owner, conversation_id, question, answer, turn_id)

    return keep


def record(
    services: Services,
    owner: str,
    conversation_id: int,
    question: str,
    answer: ChatResponse,
    turn_id: str | None = None,
) -> ChatResponse:
    """Append the question and its answer, with what the UI needs to show it again; returns the
    answer as stored (another copy's, when this turn id was stored meanwhile).

    Raises:
        NotFound: the conversation is gone (deleted while the answer was made); nothing is written.
    """
    body = answer.model_dump(mode="json")
    asked, reply = repository.append_turn(
        services.db,
        owner,
        conversation_id,
        NewMessage("user", question, turn_id=turn_id),
        NewMessage(
            "assistant",
            answer.answer,
            citations=body["citations"],
            sentences=body["sentences"],
            refused=answer.refused,
            refused_by=answer.refused_by,
            mode=answer.mode,
            fallback=answer.fallback,
            searched_for=answer.searched_for,
        ),
        title=default_title(question),
    )
    if turn_id is not None:  # maybe another copy's: what is stored is what every copy answers
        return as_response(asked, reply, conversation_id)
    return answer.model_copy(update={"conversation_id": conversation_id})
