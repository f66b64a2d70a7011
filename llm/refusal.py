"""Whether a model's reply says it has no answer, in any wording.

Small models refuse in many ways ("I don't know.", "The passages do not mention it", "资料中没有提到"),
or reply with nothing but a citation marker ("[1]"). All of them become one signal, so the API
answers a refusal with the fixed sentence instead of passing the model's wording on.
"""

from __future__ import annotations

import re

from llm.prompts import NO_ANSWER

_MARKERS_ONLY = re.compile(r"^[\s\[\]［］【】\d,，、.。:：;；!！?？\-—()（）\"'“”]*$")
# Said near the start of a reply: a refusal sentence, not an answer that mentions what is missing later.
_EN = re.compile(
    r"^\W*(?:sorry[,.]?\s*)?(?:i\s+(?:do\s+not|don't|cannot|can't|am\s+not\s+able\s+to)\s+"
    r"(?:know|find|answer|tell|say|determine|help)"
    r"|(?:the\s+)?(?:knowledge\s+base|passages?|reference(?:\s+passages?)?|context|documents?|provided\s+\w+)"
    r"\s+(?:has|have|does\s+not|do\s+not|doesn't|don't|contains?\s+no|provides?\s+no|gives?\s+no)"
    r"\s*(?:no\s+)?(?:contain|mention|include|provide|say|answer|information|have)"
    r"|there\s+is\s+no\s+(?:information|answer|mention)"
    r"|no\s+(?:information|answer)\s+(?:is\s+)?(?:available|found|given|provided)"
    r"|(?:it\s+is\s+)?not\s+(?:mentioned|specified|stated|covered)\s+in\s+the)",
    re.IGNORECASE,
)
_ZH = re.compile(
    r"^\W*(?:抱歉[，,]?\s*)?(?:我?(?:不知道|无法回答|无法确定|不能回答|无法从)"
    r"|(?:知识库|资料|参考资料|文档|上下文|所给资料|提供的资料)(?:中)?(?:没有|未|并未|并没有|不包含|没有提到|未提及)"
    r"|没有(?:找到|相关|提到|提供)|未(?:找到|提及))"
)


def is_model_refusal(text: str) -> bool:
    """True when `text` is empty, only citation markers and punctuation, or says there is no answer."""
    reply = text.strip()
    if not reply or _MARKERS_ONLY.match(reply):
        return True
    if any(sentence.rstrip(".。") in reply for sentence in NO_ANSWER.values()):
        return True
    return bool(_EN.match(reply) or _ZH.match(reply))
