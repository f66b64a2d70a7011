"""Deleting a file and uploading another: the catalog may hand the new file the old one's id."""

from __future__ import annotations

import pytest

from tests.reliability.figures import Figure, record
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STARS = b"# Observatory log\n\nThe telescope tracked the nebula and a distant quasar through the night sky.\n"
BREAD = b"# Bakery notes\n\nThe sourdough starter needs flour, water and warm proofing before the bread bakes.\n"


def test_a_deleted_file_never_lends_its_vectors_to_the_next_file(stack: Stack) -> None:
    client = stack.client
    client.create_kb("reuse")
    first = client.upload("reuse", [("stars.md", STARS)]).json()["files"][0]
    assert client.wait_settled("reuse", expected=1)[0]["status"] == "done"
    before = client.search("reuse", "telescope nebula quasar", top_k=3)
    assert before[0]["file_id"] == first["file_id"]
    assert client.http.delete(f"/api/kbs/reuse/files/{first['file_id']}").status_code == 204
    second = client.upload("reuse", [("bread.md", BREAD)]).json()["files"][0]
    assert client.wait_settled("reuse", expected=1)[0]["status"] == "done"

    stale = client.search("reuse", "telescope nebula quasar", top_k=3)
    fresh = client.search("reuse", "sourdough flour bread", top_k=3)
    stale_scores = [h["score"] for h in stale]
    record(
        Figure(
            "delete a file, upload another (its id reused: "
            f"{second['file_id'] == first['file_id']}): search serves the new file's vectors",
            submitted=2,
            ingested=2,
            lost=0,
            note=f"stars query before the delete {before[0]['score']:.2f}, after {max(stale_scores, default=0):.2f}; "
            f"bread query {fresh[0]['score'] if fresh else 0:.2f}",
        )
    )
    assert fresh, "the new file is not found by its own words"
    assert fresh[0]["file_id"] == second["file_id"]
    assert fresh[0]["score"] > max(stale_scores, default=0.0), (fresh, stale)
    assert all(score < before[0]["score"] - 0.2 for score in stale_scores), (before, stale)
