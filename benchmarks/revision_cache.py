"""How much of a revised document's embedding the vector cache skips.

Uploads each Python FAQ page to a fresh server, then a revision of it under the same name with
one paragraph rewritten (kb-server makes it the page's next version), and prints, per page, the
revision's chunks, how many the vector cache gave (`cached_chunks` on the file record) and the
seconds each version took from upload to done. No timing asserts: it prints figures.

    python -m benchmarks.revision_cache [--pages N]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import SHARED_DATA, Server, create_kb, list_files, upload_paths

PAGES = SHARED_DATA / "python-faq" / "html"


def revise(html: str) -> str:
    """The page with the middle paragraph's text rewritten (one passage of the page changes)."""
    paragraphs = list(re.finditer(r"<p>(.*?)</p>", html, flags=re.S))
    middle = paragraphs[len(paragraphs) // 2]
    return html[: middle.start(1)] + "This answer was rewritten in the revised edition. " + html[middle.end(1) :]


def wait_done(http: httpx.Client, kb: str, file_id: int, timeout_s: float = 900) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        f = next((f for f in list_files(http, kb) if f["file_id"] == file_id), None)
        if f is not None and f["status"] in ("done", "failed"):
            return f
        time.sleep(0.2)
    raise TimeoutError(f"file {file_id} not done after {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=9, help="how many FAQ pages (9)")
    args = parser.parse_args()
    pages = sorted(PAGES.glob("*.html"))[: args.pages]
    totals = {"chunks": 0, "cached": 0, "first_s": 0.0, "revised_s": 0.0}
    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp)) as server:
        http = server.http
        create_kb(http, "bench")
        print(f"{'page':<18}{'chunks':>8}{'cached':>8}{'v1 s':>8}{'v2 s':>8}")
        for page in pages:
            started = time.perf_counter()
            (first,) = upload_paths(http, "bench", [page])
            wait_done(http, "bench", first["file_id"])
            first_s = time.perf_counter() - started
            revised = Path(tmp) / "revised" / page.name
            revised.parent.mkdir(exist_ok=True)
            revised.write_text(revise(page.read_text(encoding="utf-8")), encoding="utf-8")
            started = time.perf_counter()
            (second,) = upload_paths(http, "bench", [revised])
            assert second["replaces"] == first["file_id"], second
            done = wait_done(http, "bench", second["file_id"])
            revised_s = time.perf_counter() - started
            print(f"{page.name:<18}{done['chunks']:>8}{done['cached_chunks']:>8}{first_s:>8.1f}{revised_s:>8.1f}")
            totals["chunks"] += done["chunks"]
            totals["cached"] += done["cached_chunks"]
            totals["first_s"] += first_s
            totals["revised_s"] += revised_s
    share = totals["cached"] / totals["chunks"] if totals["chunks"] else 0.0
    print(
        f"total: {totals['cached']} of {totals['chunks']} chunks of the revisions came from the vector cache "
        f"({share:.0%} of the embedding skipped); {totals['first_s']:.1f} s for the first versions, "
        f"{totals['revised_s']:.1f} s for the revisions"
    )


if __name__ == "__main__":
    main()
