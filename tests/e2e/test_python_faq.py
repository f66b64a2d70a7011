"""The spine's acceptance: the Python FAQ ingested whole, searched, re-uploaded, and a worker killed."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from kb_server.services.evaluation import is_relevant, rank_metrics
from tests.e2e.conftest import FAQ_KB
from tests.support.client import KBClient
from tests.support.inspect_data import chunk_report
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


def test_every_page_is_done_with_consistent_chunks(faq_kb: dict[str, dict[str, int]]) -> None:
    for name, counts in faq_kb.items():
        assert counts["chunks"] > 0, name
        assert counts["chunks"] == counts["rows"] == counts["ordinals"] == counts["vectors"], (name, counts)


def test_search_finds_the_answer_in_the_top_5_for_90_percent(
    faq_kb: dict[str, dict[str, int]], client: KBClient, shared_data: Path
) -> None:
    qa = [json.loads(line) for line in (shared_data / "python-faq" / "qa.jsonl").read_text().splitlines() if line]
    assert len(qa) == 174
    relevance = []
    for item in qa:
        results = client.search(FAQ_KB, item["question"], top_k=10)
        relevance.append([is_relevant(r["text"], item["answer"]) for r in results])
    metrics = rank_metrics(relevance)
    print(f"python-faq, default mode: {metrics}")
    assert metrics.hit_at_5 >= 0.90, metrics


def test_reuploading_the_pages_answers_duplicate_and_adds_nothing(
    faq_kb: dict[str, dict[str, int]], stack: Stack, faq_pages: list[Path]
) -> None:
    entries = stack.client.upload_paths(FAQ_KB, faq_pages)
    assert [e["status"] for e in entries] == ["duplicate"] * 9
    assert chunk_report(stack.data_dir, FAQ_KB) == faq_kb


def test_kill_9_of_the_worker_mid_ingestion_loses_and_doubles_nothing(
    faq_kb: dict[str, dict[str, int]], faq_pages: list[Path], tmp_path: Path
) -> None:
    crashing = Stack(tmp_path)
    try:
        crashing.start()
        client = crashing.client
        client.create_kb(FAQ_KB)
        client.upload_paths(FAQ_KB, faq_pages)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            files = client.files(FAQ_KB)
            if any(f["status"] == "done" for f in files) and any(
                f["status"] == "processing" and f["stage"] == "embedding" for f in files
            ):
                break
            time.sleep(0.1)
        else:
            pytest.fail("never saw one file done and another embedding")
        crashing.workers[0].signal(signal.SIGKILL)
        crashing.workers[0].kill_group()
        crashing.start_worker()
        files = client.wait_settled(FAQ_KB, expected=9, timeout_s=400)
        assert [f["status"] for f in files] == ["done"] * 9, crashing.logs_tail()
        assert chunk_report(crashing.data_dir, FAQ_KB) == faq_kb
        assert max(f["attempts"] for f in files) >= 2  # the interrupted file really ran again
    finally:
        crashing.stop()
