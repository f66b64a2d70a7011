"""Every supported format over HTTP: upload → done → its text found by search, with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.samples import CHINESE_NOTICE, samples
from tests.support.archives import write_docx_chinese
from tests.support.client import KBClient
from tests.support.images import image_bytes
from tests.support.texts import CHINESE_SENTENCES

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


# (file, query, text the found chunk holds, metadata it carries)
EXPECTED: list[tuple[str, str, str, dict[str, object]]] = [
    ("ferry.txt", "When does the ferry to Bryher leave?", "seven fifteen", {}),
    ("lamps.md", "How often is the lens of the lamp polished?", "every Sunday", {"title": "Lamps"}),
    ("tides.htm", "high water at the harbour on 2 May", "date: 2 May; high water: 06:58", {}),
    ("people.csv", "Which city does Linus Torvalds live in?", "name: Linus Torvalds; city: Helsinki", {}),
    ("capitals.tsv", "What is the capital of Norway?", "country: Norway; capital: Oslo", {}),
    ("shop.json", "price of the brass compass", "name: brass compass; price: 38", {}),
    ("boiler.eml", "When will the boiler be serviced?", "between eight and ten", {}),
    ("hours.docx", "museum opening hours on Sunday", "day: Sunday; opens: 11:00; closes: 16:00", {}),
    (
        "office.xlsx",
        "Alan Turing office phone number",
        "name: Alan Turing; office: C3; phone: 4420",
        {"sheet": "Staff"},
    ),
    ("review.pptx", "research team budget", "team: research; budget: 40000", {"slide": 3, "title": "Budget"}),
    ("rules.odt", "When must boats be moored?", "moored by sunset", {}),
    ("lighthouse.epub", "When does the keeper trim the wick?", "trims the wick", {}),
    ("warranty.pdf", "Where are warranty repairs done free of charge?", "authorised workshop", {"page_number": 2}),
    ("warranty.pdf", "Are batteries covered by the warranty?", "Batteries and cables", {"page_number": 3}),
    ("poster.png", "Where is the choir rehearsal on Friday?", "old chapel on Friday", {}),
    ("photo.jpeg", "When can I buy rye bread at the bakery?", "rye bread only on Saturdays", {}),
    ("fax.tif", "late payment fee for the invoice", "fee of two percent", {"page_number": 2}),
    ("sign.bmp", "Can I bring my dog into the walled garden?", "kept on a lead", {}),
]


def test_every_format_is_ingested_and_searchable(client: KBClient, kb: str, tmp_path: Path) -> None:
    files = [(sample.name, sample.data) for sample in samples(tmp_path)]
    r = client.upload(kb, files)
    assert r.status_code == 202, r.text
    assert [e["status"] for e in r.json()["files"]] == ["queued"] * len(files)

    settled = client.wait_settled(kb, expected=len(files), timeout_s=300)

    failed = {f["name"]: f["error"] for f in settled if f["status"] != "done"}
    assert failed == {}
    assert all(f["chunks"] > 0 and f["progress"] == 1.0 for f in settled)
    for name, query, needle, meta in EXPECTED:
        hits = [h for h in client.search(kb, query, top_k=5) if h["file_name"] == name and needle in h["text"]]
        assert hits, f"{name}: {query!r} did not find {needle!r}"
        assert meta.items() <= hits[0]["metadata"].items(), hits[0]["metadata"]
        assert hits[0]["metadata"]["source"] == name


def test_chinese_documents_come_back_verbatim_and_chinese_questions_find_them(
    client: KBClient, kb: str, tmp_path: Path
) -> None:
    files = [
        ("政策.docx", write_docx_chinese(tmp_path / "zh.docx").read_bytes()),
        ("通知.png", image_bytes(CHINESE_NOTICE, "PNG")),
    ]
    assert client.upload(kb, files).status_code == 202
    settled = client.wait_settled(kb, expected=2)
    assert {f["status"] for f in settled} == {"done"}, settled

    policy = client.search(kb, "商品签收后多少天内可以退货？", top_k=3)
    notice = client.search(kb, "图书馆什么时候闭馆检修？", top_k=3)

    assert policy[0]["file_name"] == "政策.docx"
    assert policy[0]["metadata"]["title"] == "退货政策"
    assert all(sentence in policy[0]["text"] for sentence in CHINESE_SENTENCES[:2])
    assert notice[0]["file_name"] == "通知.png"
    assert all(sentence in notice[0]["text"] for sentence in CHINESE_NOTICE)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("photo.jpg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "it looks like a PNG image"),
        ("scan.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "it looks like an executable"),
        ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 64, "damaged zip container"),
    ],
)
def test_a_mismatched_or_unsupported_upload_is_415_with_a_reason(
    client: KBClient, kb: str, name: str, data: bytes, reason: str
) -> None:
    r = client.upload(kb, [(name, data)])

    assert r.status_code == 415
    assert r.json()["code"] == "content_mismatch"
    assert reason in r.json()["detail"]


def test_a_damaged_image_fails_with_a_reason_and_the_rest_of_the_batch_goes_on(client: KBClient, kb: str) -> None:
    good = image_bytes(["The harbour master's office opens at nine."], "PNG")
    broken = good[:200]
    r = client.upload(kb, [("good.png", good), ("broken.png", broken)])
    assert r.status_code == 202

    by_name = {f["name"]: f for f in client.wait_settled(kb, expected=2)}

    assert by_name["good.png"]["status"] == "done"
    assert by_name["broken.png"]["status"] == "failed"
    assert "image cannot be" in by_name["broken.png"]["error"]
