"""One small generated file of every supported format, with a phrase each must yield."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.support.archives import (
    write_docx_chinese,
    write_docx_with_table,
    write_epub,
    write_odt,
    write_pptx_deck,
    write_xlsx_two_sheets,
)
from tests.support.images import image_bytes, text_image, tiff_bytes
from tests.support.pdfs import mixed_pdf
from tests.support.texts import CHINESE_SENTENCES

CHINESE_NOTICE = ["图书馆将于下周一闭馆进行设备检修。", "借阅的图书可以在自助还书机归还。"]
WARRANTY = [
    "The warranty lasts two years from the date of purchase shown on the receipt.",
    "Batteries and cables are not covered by the warranty, nor is damage by water.",
]

HTML_WITH_TABLE = (
    "<html><head><title>Tides</title></head><body><h1>Tide table</h1><p>High and low water at the harbour.</p>"
    "<table><tr><th>date</th><th>high water</th><th>low water</th></tr>"
    "<tr><td>1 May</td><td>06:12</td><td>12:40</td></tr><tr><td>2 May</td><td>06:58</td><td>13:25</td></tr>"
    "</table></body></html>"
)

EMAIL = (
    "From: Ada <ada@example.org>\nTo: bob@example.org\nSubject: Boiler service on Thursday\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    "Hi Bob,\n\nThe engineer will service the boiler on Thursday between eight and ten in the morning.\n"
    "Please leave the cellar door unlocked.\n\nAda\n"
)

JSON_DOCUMENT = {
    "shop": {"name": "Harbour Lights", "city": "Falmouth"},
    "products": [
        {"sku": "L-100", "name": "storm lantern", "price": 24.5},
        {"sku": "C-200", "name": "brass compass", "price": 38},
    ],
    "tags": ["nautical", "gifts"],
}


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    phrase: str  # text the parsed file must contain


def samples(tmp_path: Path) -> list[Sample]:
    scan = text_image(["Repairs under warranty are free of charge at any authorised workshop."], size=40, width=2000)
    rules = write_odt(tmp_path / "rules.odt", "Harbour rules", "Boats must be moored by sunset.")
    return [
        Sample("ferry.txt", b"The ferry to Bryher leaves the quay at seven fifteen every morning.\n", "seven fifteen"),
        Sample(
            "lamps.md", b"# Lamps\n\nThe keeper polishes the lens of the great lamp every Sunday.\n", "every Sunday"
        ),
        Sample("tides.htm", HTML_WITH_TABLE.encode(), "date: 2 May; high water: 06:58"),
        Sample("people.csv", b"name,city\nAda Lovelace,London\nLinus Torvalds,Helsinki\n", "city: Helsinki"),
        Sample("capitals.tsv", b"country\tcapital\nPortugal\tLisbon\nNorway\tOslo\n", "country: Norway; capital: Oslo"),
        Sample("shop.json", json.dumps(JSON_DOCUMENT).encode(), "name: brass compass; price: 38"),
        Sample("boiler.eml", EMAIL.encode(), "between eight and ten"),
        Sample("hours.docx", write_docx_with_table(tmp_path / "h.docx").read_bytes(), "day: Sunday; opens: 11:00"),
        Sample("office.xlsx", write_xlsx_two_sheets(tmp_path / "o.xlsx").read_bytes(), "name: Alan Turing; office: C3"),
        Sample("review.pptx", write_pptx_deck(tmp_path / "r.pptx").read_bytes(), "team: research; budget: 40000"),
        Sample("rules.odt", rules.read_bytes(), "moored by sunset"),
        Sample("lighthouse.epub", write_epub(tmp_path / "l.epub").read_bytes(), "trims the wick"),
        Sample("warranty.pdf", mixed_pdf(WARRANTY, scan, scan_at=1), "authorised workshop"),
        Sample(
            "poster.png",
            image_bytes(["Choir rehearsal moves to the old chapel on Friday evening."], "PNG"),
            "old chapel",
        ),
        Sample(
            "photo.jpeg",
            image_bytes(["The bakery sells rye bread only on Saturdays."], "JPEG", quality=90),
            "rye bread",
        ),
        Sample(
            "fax.tif",
            tiff_bytes(["Invoice 4471 is due by the end of March.", "Late payment adds a fee of two percent."]),
            "two percent",
        ),
        Sample("sign.bmp", image_bytes(["Dogs must be kept on a lead in the walled garden."], "BMP"), "kept on a lead"),
        Sample("政策.docx", write_docx_chinese(tmp_path / "zh.docx").read_bytes(), CHINESE_SENTENCES[0]),
        Sample("通知.png", image_bytes(CHINESE_NOTICE, "PNG"), CHINESE_NOTICE[0]),
    ]
