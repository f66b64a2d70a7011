"""Keep `unstructured` from downloading spaCy's `en_core_web_sm` at run time.

The first parse of txt/md/html/docx/pptx/epub asks `unstructured.nlp.tokenize._get_nlp` for that
model, and if it is missing tries to fetch it from GitHub — which fails on an air-gapped machine.
A blank English pipeline with a sentencizer gives the same sentence splits; without a tagger,
paragraphs come back as `Text` rather than `NarrativeText`, and no text is lost.
"""

from __future__ import annotations

import functools
import os
from typing import Any

_applied = False


@functools.lru_cache(maxsize=1)
def _blank_english() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def apply() -> None:
    """Install the offline spaCy pipeline into unstructured (idempotent)."""
    global _applied
    if _applied:
        return
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    import unstructured.nlp.tokenize as tokenize

    tokenize._get_nlp = _blank_english
    _applied = True
