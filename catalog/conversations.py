"""Catalog reads and writes of conversations and their messages.

Every read and write names the owner: a conversation of another owner is one that does not exist.
Each change is one conditional statement: rename and delete are one UPDATE / DELETE on (id, owner);
appending a turn takes its positions with one UPDATE of the conversation's `turns` counter (the
row lock on PostgreSQL, the write lock on SQLite order concurrent appends) and inserts the two
messages in the same transaction; UNIQUE(conversation_id, position) makes a double position
impossible whatever happens above. A turn sent with a client `turn_id` is stored once: a unique
index on (conversation_id, turn_id) turns a concurrent second copy into a rollback, after which the
stored turn is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, desc, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.database import Database
from catalog.errors import NotFound
from catalog.models import Conversation, Message, utcnow


@dataclass(frozen=True)
class NewMessage:
    role: str
    content: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    refused: bool = False
    refused_by: str | None = None
    turn_id: str | None = None
    searched_for: str | None = None
    mode: str | None = None
    fallback: str | None = None


def _missing(conversation_id: int) -> NotFound:
    return NotFound(f"conversation {conversation_id} does not exist", code="conversation_not_found")


def create_conversation(db: Database, owner: str, kbs: list[str], title: str = "") -> Conversation:
    with db.write() as s:
        now = utcnow()
        conversation = Conversation(owner=owner, kbs=list(kbs), title=title, turns=0, created_at=now, updated_at=now)
        s.add(conversation)
        s.flush()
        return conversation


def list_conversations(db: Database, owner: str, limit: int = 50, offset: int = 0) -> Sequence[Conversation]:
    """The owner's conversations, the most recently active first."""
    with db.read() as s:
        return s.scalars(
            select(Conversation)
            .where(Conversation.owner == owner)
            .order_by(desc(Conversation.updated_at), desc(Conversation.id))
            .limit(limit)
            .offset(offset)
        ).all()


def get_conversation(db: Database, owner: str, conversation_id: int) -> tuple[Conversation, Sequence[Message]]:
    """A conversation and its messages in order, read in one snapshot.

    Raises:
        NotFound: no such conversation of this owner.
    """
    with db.read() as s:
        conversation = _owned(s, owner, conversation_id)
        messages = s.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
        ).all()
        return conversation, messages


def conversation_kbs(db: Database, owner: str, conversation_id: int) -> list[str]:
    """The knowledge bases a conversation asks.

    Raises:
        NotFound: no such conversation of this owner.
    """
    with db.read() as s:
        return list(_owned(s, owner, conversation_id).kbs or [])


def recent_messages(db: Database, owner: str, conversation_id: int, limit: int) -> list[Message]:
    """The last `limit` messages of a conversation, oldest first.

    Raises:
        NotFound: no such conversation of this owner.
    """
    with db.read() as s:
        _owned(s, owner, conversation_id)
        latest = s.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(desc(Message.position))
            .limit(limit)
        ).all()
        return list(reversed(latest))


def rename_conversation(db: Database, owner: str, conversation_id: int, title: str) -> Conversation:
    """Raises: NotFound."""
    with db.write() as s:
        row = s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.owner == owner)
            .values(title=title, updated_at=utcnow())
            .returning(Conversation.id)
        ).first()
        if row is None:
            raise _missing(conversation_id)
        return s.get_one(Conversation, conversation_id, populate_existing=True)


def delete_conversation(db: Database, owner: str, conversation_id: int) -> None:
    """Delete a conversation; its messages go with it (ON DELETE CASCADE).

    Raises:
        NotFound: no such conversation of this owner (also when it was deleted already).
    """
    with db.write() as s:
        row = s.execute(
            delete(Conversation)
            .where(Conversation.id == conversation_id, Conversation.owner == owner)
            .returning(Conversation.id)
        ).first()
        if row is None:
            raise _missing(conversation_id)


def forget_kb(s: Session, name: str) -> None:
    """In a KB's delete transaction: its conversations go (with their messages, which quote its
    documents), and a conversation over several KBs keeps asking the others."""
    asking = [c for c in s.scalars(select(Conversation)) if name in (c.kbs or [])]
    alone = [c.id for c in asking if set(c.kbs) == {name}]
    if alone:
        s.execute(delete(Conversation).where(Conversation.id.in_(alone)))
    for c in asking:
        if c.id not in alone:
            s.execute(update(Conversation).where(Conversation.id == c.id).values(kbs=[k for k in c.kbs if k != name]))


def append_turn(
    db: Database, owner: str, conversation_id: int, question: NewMessage, answer: NewMessage, title: str = ""
) -> tuple[Message, Message]:
    """Append a question and its answer as the next two messages, in one transaction.

    `title` becomes the conversation's title if it has none yet (in the same UPDATE).

    A question with a `turn_id` the conversation already holds writes nothing: the stored turn is
    returned (whoever stored it first, also when two copies race).

    Raises:
        NotFound: no such conversation of this owner (deleted meanwhile, say); nothing is written.
    """
    try:
        return _append(db, owner, conversation_id, question, answer, title)
    except IntegrityError:
        stored = find_turn(db, owner, conversation_id, question.turn_id) if question.turn_id else None
        if stored is None:
            raise
        return stored


def find_turn(db: Database, owner: str, conversation_id: int, turn_id: str) -> tuple[Message, Message] | None:
    """The question stored with `turn_id` and its answer, or None.

    Raises:
        NotFound: no such conversation of this owner.
    """
    with db.read() as s:
        _owned(s, owner, conversation_id)
        asked = s.scalar(select(Message).where(Message.conversation_id == conversation_id, Message.turn_id == turn_id))
        if asked is None:
            return None
        reply = s.scalar(
            select(Message).where(Message.conversation_id == conversation_id, Message.position == asked.position + 1)
        )
        return (asked, reply) if reply is not None else None


def _append(
    db: Database, owner: str, conversation_id: int, question: NewMessage, answer: NewMessage, title: str
) -> tuple[Message, Message]:
    now = utcnow()
    with db.write() as s:
        turns = s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.owner == owner)
            .values(
                turns=Conversation.turns + 1,
                updated_at=now,
                title=case((Conversation.title == "", title), else_=Conversation.title),
            )
            .returning(Conversation.turns)
        ).scalar()
        if turns is None:
            raise _missing(conversation_id)
        first = 2 * (turns - 1)
        messages = tuple(
            Message(
                conversation_id=conversation_id,
                position=first + i,
                role=m.role,
                content=m.content,
                citations=m.citations,
                sentences=m.sentences,
                refused=m.refused,
                refused_by=m.refused_by,
                created_at=now,
                turn_id=m.turn_id,
                searched_for=m.searched_for,
                mode=m.mode,
                fallback=m.fallback,
            )
            for i, m in enumerate((question, answer))
        )
        s.add_all(messages)
        s.flush()
        return messages[0], messages[1]


def _owned(s: Session, owner: str, conversation_id: int) -> Conversation:
    conversation = s.scalar(select(Conversation).where(Conversation.id == conversation_id, Conversation.owner == owner))
    if conversation is None:
        raise _missing(conversation_id)
    return conversation
