"""Chinese, Japanese and Korean text: what counts as CJK, how long it is, where it may be cut.

A CJK character carries about as much meaning (and as many model tokens) as a short English word,
so chunk sizes count it several times. Words are not separated by spaces, so when no punctuation
is left to split at, jieba finds word boundaries instead of cutting a word in half.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

# Han ideographs (with extension A and compatibility forms), kana, hangul, and CJK punctuation /
# fullwidth forms, which tesseract also separates with spaces.
_CJK_CLASS = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
CJK = re.compile(f"[{_CJK_CLASS}]")
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK_CLASS}])[ \t]+(?=[{_CJK_CLASS}])")
# OCR often reads Chinese punctuation as ASCII with spaces around it ("政策 : 商品").
_ASCII_PUNCT_IN_CJK = re.compile(f"(?<=[{_CJK_CLASS}])[ \t]*([,:;!?])[ \t]*(?=[{_CJK_CLASS}])")
_FULLWIDTH = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？"}

log = logging.getLogger(__name__)


def has_cjk(text: str) -> bool:
    return CJK.search(text) is not None


def weighted_length(cjk_weight: float) -> Callable[[str], int]:
    """A length function that counts each CJK character `cjk_weight` times."""
    if cjk_weight == 1:
        return len
    extra = cjk_weight - 1

    def length(text: str) -> int:
        return len(text) + round(extra * len(CJK.findall(text)))

    return length


def join_cjk_spaces(text: str) -> str:
    """Remove the spaces OCR puts between CJK characters ("退 货 政 策" → "退货政策"), and make
    ASCII punctuation between them fullwidth ("政策 : 商品" → "政策：商品")."""
    text = _ASCII_PUNCT_IN_CJK.sub(lambda m: _FULLWIDTH[m.group(1)], text)
    return _SPACE_BETWEEN_CJK.sub("", text)


def words(text: str) -> list[str]:
    """Split text into words: jieba for CJK runs, characters otherwise (the splitter's last resort)."""
    if not has_cjk(text):
        return list(text)
    return [w for w in _jieba().cut(text, HMM=True) if w]


@functools.lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba
