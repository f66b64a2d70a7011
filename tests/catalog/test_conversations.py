"""Conversations in the catalog, on SQLite and PostgreSQL: owners, paging, rename, cascade, concurrent appends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from catalog import Conversation, Database, Message, repository
from catalog import conversations as repo
from catalog.conversations import NewMessage
from catalog.errors import NotFound

pytestmark = pytest.mark.unit

CITATION = {"n": 1, "chunk_id": 7, "file_name": "a.md", "text": "bees make honey"}


def _turn(db: Database, conversation_id: int, n: int, owner: str = "") -> tuple[Message, Message]:
    return repo.append_turn(
        db,
        owner,
        conversation_id,
        NewMessage("user", f"question {n}"),
        NewMessage("assistant", f"answer {n} [1]", citations=[CITATION], sentences=[{"text": f"answer {n}"}]),
        title=f"question {n}",
    )


def _messages(db: Database, conversation_id: int | None = None) -> int:
    query = select(func.count()).select_from(Message)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    with db.read() as s:
        return int(s.scalar(query) or 0)


def test_a_turn_is_stored_with_its_citations_and_names_an_untitled_conversation(db: Database) -> None:
    conversation = repo.create_conversation(db, "", ["docs"])
    assert (conversation.title, conversation.turns, conversation.kbs) == ("", 0, ["docs"])

    _turn(db, conversation.id, 1)
    _turn(db, conversation.id, 2)

    stored, messages = repo.get_conversation(db, "", conversation.id)
    assert stored.title == "question 1"  # the first question's, kept by later turns
    assert stored.turns == 2
    assert [(m.position, m.role, m.content) for m in messages] == [
        (0, "user", "question 1"),
        (1, "assistant", "answer 1 [1]"),
        (2, "user", "question 2"),
        (3, "assistant", "answer 2 [1]"),
    ]
    assert messages[1].citations == [CITATION]
    assert messages[1].sentences == [{"text": "answer 1"}]
    assert [m.content for m in repo.recent_messages(db, "", conversation.id, 3)] == [
        "answer 1 [1]",
        "question 2",
        "answer 2 [1]",
    ]


def test_a_given_title_is_kept_and_rename_replaces_it(db: Database) -> None:
    conversation = repo.create_conversation(db, "", ["docs"], title="Bees")
    _turn(db, conversation.id, 1)
    assert repo.get_conversation(db, "", conversation.id)[0].title == "Bees"

    renamed = repo.rename_conversation(db, "", conversation.id, "Honey")

    assert renamed.title == "Honey"
    assert repo.get_conversation(db, "", conversation.id)[0].title == "Honey"
    with pytest.raises(NotFound):
        repo.rename_conversation(db, "", conversation.id + 1000, "nope")


def test_owners_see_only_their_own(db: Database) -> None:
    mine = repo.create_conversation(db, "alice", ["docs"])
    theirs = repo.create_conversation(db, "bob", ["docs"])

    assert [c.id for c in repo.list_conversations(db, "alice")] == [mine.id]
    assert [c.id for c in repo.list_conversations(db, "bob")] == [theirs.id]
    for attempt in (
        lambda: repo.get_conversation(db, "alice", theirs.id),
        lambda: repo.recent_messages(db, "alice", theirs.id, 10),
        lambda: repo.rename_conversation(db, "alice", theirs.id, "mine now"),
        lambda: repo.delete_conversation(db, "alice", theirs.id),
        lambda: _turn(db, theirs.id, 1, owner="alice"),
    ):
        with pytest.raises(NotFound) as info:
            attempt()
        assert info.value.code == "conversation_not_found"
    stored, messages = repo.get_conversation(db, "bob", theirs.id)
    assert (stored.title, list(messages)) == ("", [])


def test_the_list_is_newest_activity_first_and_pages(db: Database) -> None:
    ids = [repo.create_conversation(db, "", ["docs"], title=f"c{n}").id for n in range(5)]
    _turn(db, ids[0], 1)  # the oldest becomes the most recently active

    listed = [c.id for c in repo.list_conversations(db, "")]
    assert listed == [ids[0], ids[4], ids[3], ids[2], ids[1]]
    assert [c.id for c in repo.list_conversations(db, "", limit=2, offset=1)] == [ids[4], ids[3]]
    assert list(repo.list_conversations(db, "", limit=2, offset=5)) == []


def test_delete_takes_the_messages_with_it(db: Database) -> None:
    kept = repo.create_conversation(db, "", ["docs"])
    gone = repo.create_conversation(db, "", ["docs"])
    for n in range(3):
        _turn(db, kept.id, n)
        _turn(db, gone.id, n)

    repo.delete_conversation(db, "", gone.id)

    assert _messages(db, gone.id) == 0
    assert _messages(db, kept.id) == 6
    with pytest.raises(NotFound):
        repo.get_conversation(db, "", gone.id)
    with pytest.raises(NotFound):
        repo.delete_conversation(db, "", gone.id)
    with pytest.raises(NotFound):
        _turn(db, gone.id, 9)  # an answer that finishes after the delete writes nothing
    assert _messages(db) == 6


def test_concurrent_appends_get_distinct_positions(db: Database) -> None:
    conversation = repo.create_conversation(db, "", ["docs"])
    threads_n, turns_each = 6, 5
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def append(t: int) -> None:
        barrier.wait()
        try:
            for n in range(turns_each):
                _turn(db, conversation.id, t * 100 + n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    stored, messages = repo.get_conversation(db, "", conversation.id)
    total = 2 * threads_n * turns_each
    assert stored.turns == threads_n * turns_each
    assert [m.position for m in messages] == list(range(total))
    # Each turn's question and answer sit side by side: no other append got between them.
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert (question.role, answer.role) == ("user", "assistant")
        assert answer.content.startswith(question.content.replace("question", "answer"))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 1


def _with_turn_id(db: Database, conversation_id: int, turn_id: str, answer: str) -> tuple[Message, Message]:
    return repo.append_turn(
        db,
        "",
        conversation_id,
        NewMessage("user", "question", turn_id=turn_id),
        NewMessage("assistant", answer, mode="quote", searched_for="question (standalone)"),
    )


def test_a_turn_id_is_stored_once_and_the_stored_turn_is_returned(db: Database) -> None:
    conversation = repo.create_conversation(db, "", ["docs"])
    first = _with_turn_id(db, conversation.id, "t-1", "the first answer")
    again = _with_turn_id(db, conversation.id, "t-1", "another answer")  # a retry that generated again
    assert [m.id for m in again] == [m.id for m in first]
    assert (again[1].content, again[1].mode, again[1].searched_for) == (
        "the first answer",
        "quote",
        "question (standalone)",
    )
    assert _messages(db, conversation.id) == 2
    assert repo.get_conversation(db, "", conversation.id)[0].turns == 1  # the counter rolled back too
    found = repo.find_turn(db, "", conversation.id, "t-1")
    assert found is not None
    assert found[1].content == "the first answer"
    assert repo.find_turn(db, "", conversation.id, "t-2") is None
    # Turns without an id, and the same id in another conversation, are not affected.
    _turn(db, conversation.id, 2)
    _turn(db, conversation.id, 3)
    other = repo.create_conversation(db, "", ["docs"])
    _with_turn_id(db, other.id, "t-1", "other conversation")
    assert (_messages(db, conversation.id), _messages(db, other.id)) == (6, 2)


def test_racing_copies_of_one_turn_store_it_once(db: Database) -> None:
    conversation = repo.create_conversation(db, "", ["docs"])
    copies = 6
    barrier = threading.Barrier(copies)
    answers: list[str] = []
    errors: list[BaseException] = []

    def append(n: int) -> None:
        barrier.wait()
        try:
            answers.append(_with_turn_id(db, conversation.id, "retry", f"answer {n}")[1].content)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(answers)) == 1  # every copy got the one stored answer
    assert _messages(db, conversation.id) == 2


def test_deleting_a_kb_deletes_its_conversations_and_leaves_the_others_asking_the_rest(db: Database) -> None:
    kb = repository.create_kb(db, "docs", "", "minilm", 384)
    only = repo.create_conversation(db, "", ["docs"])
    both = repo.create_conversation(db, "", ["docs", "wiki"])
    other = repo.create_conversation(db, "", ["wiki"])
    for conversation in (only, both, other):
        _turn(db, conversation.id, 1)

    repository.delete_kb(db, kb.id)

    assert {c.id for c in repo.list_conversations(db, "")} == {both.id, other.id}
    assert _messages(db, only.id) == 0  # the messages quoted the KB's documents
    assert repo.conversation_kbs(db, "", both.id) == ["wiki"]
    assert _messages(db, both.id) == 2
    assert repo.conversation_kbs(db, "", other.id) == ["wiki"]
