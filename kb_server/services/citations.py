"""Citations from search hits.

With `chat.merge_neighbours`, hits that are consecutive chunks of one file (and one page, slide or
sheet) reach the LLM as one passage, in file order, without the text the chunks share.
"""

from __future__ import annotations

import itertools
from typing import Any

from kb_server.schemas import Citation, SearchHit
from vectorstore.ids import file_of


def neighbour_runs(hits: list[SearchHit]) -> list[list[SearchHit]]:
    """Hits grouped into runs of consecutive chunks of one file and place, each run in file order.

    Runs come in the order of their best hit (`hits` is best first).
    """
    rank = {h.chunk_id: i for i, h in enumerate(hits)}
    runs: list[list[SearchHit]] = []
    for hit in sorted(hits, key=lambda h: h.chunk_id):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and hit.chunk_id == last.chunk_id + 1  # ids are (file_id << 20) | ordinal
            and file_of(hit.chunk_id) == file_of(last.chunk_id)
            and location(hit.metadata) == location(last.metadata)
        ):
            runs[-1].append(hit)
        else:
            runs.append([hit])
    return sorted(runs, key=lambda run: min(rank[h.chunk_id] for h in run))


# A shared edge shorter than this is more likely chance than the splitter's overlap; keeping a few
# repeated characters costs little, cutting real text would not.
MIN_OVERLAP = 8


def join_chunks(earlier: str, later: str, title: str | None = None) -> str:
    """Two consecutive chunks as one text: the later's repeated heading and the overlap dropped."""
    if title and earlier.startswith(title + "\n") and later.startswith(title + "\n"):
        later = later[len(title) + 1 :]  # each piece of a long section repeats its heading
    for size in range(min(len(earlier), len(later)), MIN_OVERLAP - 1, -1):
        if earlier.endswith(later[:size]):
            return earlier + later[size:]
    return f"{earlier}\n\n{later}"


def run_citation(n: int, run: list[SearchHit], ranked: list[SearchHit]) -> Citation:
    """Citation `n` for a run of neighbouring hits: their texts joined, the best hit's file and score."""
    ids = [h.chunk_id for h in run]
    best = next(h for h in ranked if h.chunk_id in ids)
    reranked = [h.rerank_score for h in run if h.rerank_score is not None]
    text = run[0].text
    for previous, hit in itertools.pairwise(run):
        same_title = previous.metadata.get("title") == hit.metadata.get("title")
        text = join_chunks(text, hit.text, hit.metadata.get("title") if same_title else None)
    return Citation(
        n=n,
        chunk_id=best.chunk_id,
        chunk_ids=ids,
        file_id=best.file_id,
        file_name=best.file_name,
        source_url=best.source_url,
        score=max(h.score for h in run),
        rerank_score=max(reranked) if reranked else None,
        text=text,
        metadata=run[0].metadata,
        kb=best.kb,
    )


def passage_source(c: Citation) -> str:
    name = f"{c.file_name} ({c.source_url})" if c.source_url else c.file_name
    return f"{name}, {where}" if (where := location(c.metadata)) else name


def location(meta: dict[str, Any]) -> str:
    """Where in its file a chunk is: "p. 12", "slide 3", "sheet Prices" (empty if unknown)."""
    if meta.get("page_number"):
        return f"p. {meta['page_number']}"
    if meta.get("slide"):
        return f"slide {meta['slide']}"
    if meta.get("sheet"):
        return f"sheet {meta['sheet']}"
    return ""


def citations_payload(citations: list[Citation]) -> list[dict[str, Any]]:
    return [c.model_dump() for c in citations]
