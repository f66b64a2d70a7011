"""Parse speed and yield per format: `python -m tests.ingestion.format_report [--scanned-book]`.

Real files from ../shared/data/formats and the generated samples; each is parsed twice and the
second (warm) run is timed (the first, if it took over 5 s). Prints seconds per MB and the characters recovered.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from ingestion.filetypes import SNIFF_BYTES, detect_kind
from ingestion.parsing import parse_document
from ingestion.settings import IngestionSettings
from tests.ingestion.samples import samples
from tests.support.images import page_images
from tests.support.pdfs import image_pdf
from tests.support.processes import SHARED_DATA


def measure(name: str, path: Path, settings: IngestionSettings) -> tuple[float, int]:
    """The time of a warm parse (a second one, unless the first took over 5 s) and its characters."""
    kind = detect_kind(name, path.read_bytes()[:SNIFF_BYTES], path)
    seconds = 0.0
    for _ in range(2):
        started = time.perf_counter()
        elements = parse_document(path, kind.extension, settings)
        seconds = time.perf_counter() - started
        if seconds > 5:
            break
    return seconds, sum(len(e.text) for e in elements)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scanned-book", action="store_true", help="also OCR the whole book as a scan (~1 min)")
    args = parser.parse_args()
    settings = IngestionSettings()
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, OCR dpi {settings.ocr_dpi}")
    print(f"{'file':38} {'KB':>8} {'s':>7} {'s/MB':>8} {'chars':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        files = [(p.name, p) for p in sorted((SHARED_DATA / "formats").iterdir())]
        for sample in samples(Path(tmp)):
            path = Path(tmp) / f"sample-{len(files)}"
            path.write_bytes(sample.data)
            files.append((sample.name, path))
        if args.scanned_book:
            book = parse_document(SHARED_DATA / "formats" / "live-manual.en.epub", ".epub")
            scan = Path(tmp) / "scan.pdf"
            scan.write_bytes(image_pdf(page_images([e.text for e in book], dpi=200), dpi=200))
            files.append(("live-manual.scanned-200dpi.pdf", scan))
        for name, path in files:
            size = path.stat().st_size
            seconds, chars = measure(name, path, settings)
            print(f"{name:38} {size / 1024:8.1f} {seconds:7.2f} {seconds / (size / 2**20):8.2f} {chars:8d}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
