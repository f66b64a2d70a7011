"""Prompts that turn a follow-up question into one that stands on its own, and the cleaning of the reply.

Retrieval sees one question at a time, so "and how do I build it?" must carry what "it" is. The
model gets the recent turns as quoted text (not as chat turns: it must not answer them) and is
asked for the follow-up rewritten, nothing else. ``fewshot`` (Qwen) adds two worked rewrites from
a domain no knowledge base here is about, one English and one Chinese; ``brief`` (SmolLM2) gets
only the instruction. The reply of a small model needs cleaning — a label ("Standalone
question:"), quotes, a second line of answer — and is refused when it is still not a question
(empty, far longer than the conversation warrants, in another language, or an answer with
citations); the caller then falls back to carrying key terms.
"""

from __future__ import annotations

import re

from llm.base import Message, PromptStyle
from llm.prompts import NO_ANSWER, Language, detect_language

# Long enough for any rewritten question; the bound keeps a rambling model from costing seconds.
MAX_NEW_TOKENS = 48
_ANSWER_CHARS = 200  # of each earlier answer shown: what it was about, not all it said

_INSTRUCTION: dict[Language, str] = {
    "en": (
        "Rewrite the user's last question so that it can be understood without the conversation: "
        "replace words like 'it', 'that', 'this one' and fill in what is left out, using the earlier "
        "turns. Keep the question's language and meaning. Do not answer it. Reply with the rewritten "
        "question only, on one line."
    ),
    "zh": (
        "请把用户的最后一个问题改写成不看对话也能理解的独立问题：用前面的对话替换“它”“这个”“那个”等指代词，"
        "补全省略的内容。保持原来的语言和意思，不要回答问题。只输出改写后的问题，一行。"
    ),
}

_LABELS: dict[Language, tuple[str, str, str, str]] = {
    # conversation, user, assistant, follow-up
    "en": ("Conversation:", "User", "Assistant", "Last question"),
    "zh": ("对话：", "用户", "助手", "最后的问题"),
}

_EXAMPLES: list[tuple[Language, list[tuple[str, str]], str, str]] = [
    (
        "en",
        [
            ("user", "How do I clear a paper jam in the printer?"),
            ("assistant", "Open the rear cover and pull the jammed sheet out slowly [1]."),
        ],
        "and what if it keeps happening?",
        "What should I do if paper jams keep happening in the printer?",
    ),
    (
        "zh",
        [("user", "图书馆的书可以续借几次？"), ("assistant", "图书可以在到期前续借一次，续借期为 30 天 [1]。")],
        "那逾期了呢？",
        "图书馆的书逾期归还会怎样？",
    ),
]

# "Standalone question:", "Rewritten question -", "问题：" … at the start of a reply.
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:(?:the\s+)?(?:standalone|stand-alone|rewritten|reformulated|new|last|follow-up|final)\s+)?"
    r"(?:question|query)\s*(?:\*\*)?\s*[:：\-–]\s*|^\s*(?:改写后的问题|独立问题|改写|问题|最后的问题)\s*[:：]\s*",
    re.IGNORECASE,
)
_QUOTES = "\"'`“”‘’「」『』«»"
_CITATION = re.compile(r"\[\d+\]")


def _conversation(history: list[Message], question: str, lang: Language) -> str:
    title, user, assistant, last = _LABELS[lang]
    lines = [title]
    for m in history:
        text = " ".join(m["content"].split())
        if m["role"] == "assistant":
            text = text[:_ANSWER_CHARS] + ("…" if len(text) > _ANSWER_CHARS else "")
        lines.append(f"{user if m['role'] == 'user' else assistant}: {text}")
    lines.append(f"{last}: {' '.join(question.split())}")
    return "\n".join(lines)


def build_rewrite_messages(question: str, history: list[Message], style: PromptStyle = "brief") -> list[Message]:
    """The messages asking the model for ``question`` rewritten to stand alone.

    ``history`` is the recent turns, oldest first (user and assistant messages; others are ignored).
    """
    lang = detect_language(question)
    turns = [m for m in history if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
    messages: list[Message] = [{"role": "system", "content": _INSTRUCTION[lang]}]
    if style == "fewshot":
        for ex_lang, ex_turns, ex_question, ex_reply in _EXAMPLES:
            shown = [{"role": role, "content": text} for role, text in ex_turns]
            messages.append({"role": "user", "content": _conversation(shown, ex_question, ex_lang)})
            messages.append({"role": "assistant", "content": ex_reply})
    messages.append({"role": "user", "content": _conversation(turns, question, lang)})
    return messages


def clean_rewrite(reply: str, question: str, history: list[Message]) -> str | None:
    """The rewritten question in ``reply``, or None when the reply is not a usable one.

    Kept: the first non-empty line without a label, quotes or markdown emphasis. Refused: nothing
    left, longer than the question plus what the earlier questions could add, another language
    than the question's, or what looks like an answer (citations, the no-answer sentence).
    """
    line = next((s.strip() for s in reply.splitlines() if s.strip()), "")
    for _ in range(2):  # "**Question:** "…"" has a label inside emphasis and quotes around
        line = _LABEL.sub("", line).strip().strip("*").strip().strip(_QUOTES).strip()
    if not line or _CITATION.search(line) or any(n in line for n in NO_ANSWER.values()):
        return None
    earlier = sum(len(m["content"]) for m in history if m.get("role") == "user")
    if len(line) > 2 * (len(question) + earlier) + 40:
        return None
    if detect_language(line) != detect_language(question):
        return None
    return line
