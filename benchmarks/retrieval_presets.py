"""Retrieval quality of each embedding preset, side by side, on a real `kb-server up` per preset.

For each preset (`KB_EMBEDDING__PRESET`) one server ingests the English Python FAQ (faq-en, 9
HTML pages) and its Chinese translation (faq-zh, 8 Markdown pages), and asks four question sets:
the FAQ's headings in English and in Chinese (`qa.jsonl` of the shared data) and the paraphrases
in `tests/fixtures/paraphrase/` (questions in a user's own words, joined here with the shared
answers; the mixed Chinese-English ones are also shown apart; and each paraphrase asked of the
other language's FAQ, answered by its twin's answer). Relevance is `kb-server eval`'s:
a chunk overlapping the reference answer. Every question is asked once per mode (dense top 100,
keyword top 100, hybrid top 10 as the server fuses); hybrid is also re-fused here from the dense
and keyword lists for every dense weight 0.0..1.0, which is how `search.dense_weight` was checked
for the multilingual preset. Off-topic questions (English ones, and Chinese ones about pandas, tea…)
show what `chat.score_threshold` (0.35) means per preset: their median top-1 score and how many are
refused, next to the FAQ questions wrongly refused.

    .venv/bin/python -m benchmarks.retrieval_presets [--presets minilm multilingual] [--save FILE]
    .venv/bin/python -m benchmarks.retrieval_presets --load FILE      # re-print a saved run
    .venv/bin/python -m benchmarks.retrieval_presets --write-qa DIR   # eval-ready paraphrase files
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import REPO, SHARED_DATA, Server, create_kb, upload_paths, wait_settled
from kb_server.services.evaluation import is_relevant, rank_metrics

PARAPHRASES = REPO / "tests" / "fixtures" / "paraphrase"
# Questions neither FAQ answers: English ones, and Chinese ones about pandas, tea, railways…
OFFTOPIC = {
    "en": REPO / "tests" / "fixtures" / "offtopic_questions.jsonl",
    "zh": REPO / "tests" / "fixtures" / "zh" / "qa.jsonl",
}
MODES = (("dense", 100), ("keyword", 100), ("hybrid", 10))
KBS = {"faq-en": ("python-faq", "html", "*.html"), "faq-zh": ("python-faq-zh", "md", "*.md")}
THRESHOLD = 0.35
WEIGHTS = [round(w / 10, 1) for w in range(11)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def paraphrases(language: str) -> list[dict[str, Any]]:
    """The paraphrase set of `language` with each question's reference answer from the shared data."""
    folder = "python-faq" if language == "en" else "python-faq-zh"
    answers = {(q["file"], q["question"]): q["answer"] for q in read_jsonl(SHARED_DATA / folder / "qa.jsonl")}
    return [{**q, "answer": answers[q["file"], q["heading"]]} for q in read_jsonl(PARAPHRASES / f"{language}.jsonl")]


def question_sets() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """name -> (KB asked, questions); the cross-lingual sets ask each paraphrase of the other FAQ's
    language, with its twin's answer."""
    en_para, zh_para = paraphrases("en"), paraphrases("zh")
    return {
        "en headings": ("faq-en", read_jsonl(SHARED_DATA / "python-faq" / "qa.jsonl")),
        "zh headings": ("faq-zh", read_jsonl(SHARED_DATA / "python-faq-zh" / "qa.jsonl")),
        "en paraphrases": ("faq-en", en_para),
        "zh paraphrases": ("faq-zh", zh_para),
        "zh mixed zh-en": ("faq-zh", [q for q in zh_para if q.get("mixed")]),
        "en para -> zh KB": (
            "faq-zh",
            [{**en, "answer": zh["answer"]} for en, zh in zip(en_para, zh_para, strict=True)],
        ),
        "zh para -> en KB": (
            "faq-en",
            [{**zh, "answer": en["answer"]} for en, zh in zip(en_para, zh_para, strict=True)],
        ),
    }


def ask(http: httpx.Client, kb: str, question: str, mode: str, top_k: int) -> list[dict[str, Any]]:
    r = http.post(f"/api/kbs/{kb}/search", json={"query": question, "top_k": top_k, "mode": mode})
    r.raise_for_status()
    return list(r.json()["results"])


def chunk_key(hit: dict[str, Any]) -> str:
    """A chunk's name that is the same on every preset's server (chunk ids are not): file and text."""
    return f"{hit['file_name']}#{hashlib.sha1(hit['text'].encode()).hexdigest()[:16]}"


def run_preset(preset: str, root: Path) -> dict[str, Any]:
    """Ingest both KBs on a fresh server of `preset`, then ask every question in every mode."""
    env = {"KB_EMBEDDING__PRESET": preset, "KB_LLM__BACKEND": "none", "KB_WORKER__NICE": "5"}
    result: dict[str, Any] = {"preset": preset, "ingest": {}, "sets": {}}
    with Server(root / preset, **env) as server:
        http = server.http
        http.timeout = httpx.Timeout(120)
        for kb, (folder, sub, pattern) in KBS.items():
            pages = sorted((SHARED_DATA / folder / sub).glob(pattern))
            create_kb(http, kb)
            started = time.monotonic()
            upload_paths(http, kb, pages)
            files = wait_settled(http, kb, expected=len(pages), timeout_s=1200)
            seconds = time.monotonic() - started
            assert all(f["status"] == "done" for f in files), files
            result["ingest"][kb] = {"chunks": sum(f["chunks"] for f in files), "seconds": seconds}
        for name, (kb, questions) in question_sets().items():
            rows = []
            for q in questions:
                row: dict[str, Any] = {}
                for mode, top_k in MODES:
                    hits = ask(http, kb, q["question"], mode, top_k)
                    row[mode] = [(chunk_key(h), h["score"], is_relevant(h["text"], q["answer"])) for h in hits]
                rows.append(row)
            result["sets"][name] = rows
        result["offtopic"] = {
            f"{language} -> {kb}": {
                mode: [[h["score"] for h in ask(http, kb, q["question"], mode, 1)] for q in read_jsonl(path)]
                for mode, _ in MODES
            }
            for language, path in OFFTOPIC.items()
            for kb in KBS
        }
        # Whole top-100 lists too, so a fusion of several presets' retrievers can be scored offline.
        result["offtopic_lists"] = {
            f"{language} -> {kb}": [
                {
                    mode: [(chunk_key(h), h["score"]) for h in ask(http, kb, q["question"], mode, top_k)]
                    for mode, top_k in MODES[:2]
                }
                for q in read_jsonl(path)
            ]
            for language, path in OFFTOPIC.items()
            for kb in KBS
        }
    return result


def fused(row: dict[str, Any], weight: float) -> list[bool]:
    """Hybrid re-fused at dense weight `weight` from the top-100 lists (a chunk missing from one
    list gets 0 there: below its top 100, so close to it)."""
    dense = {c: min(max(s, 0.0), 1.0) for c, s, _ in row["dense"]}
    keyword = {c: s for c, s, _ in row["keyword"]}
    relevant = {c: r for c, _, r in row["dense"] + row["keyword"]}
    scores = {c: weight * dense.get(c, 0.0) + (1 - weight) * keyword.get(c, 0.0) for c in relevant}
    return [relevant[c] for c in sorted(scores, key=lambda c: -scores[c])[:10]]


def report(results: list[dict[str, Any]]) -> None:
    print("ingestion (upload -> every file done, one server per preset, 2 worker processes)")
    for r in results:
        parts = [f"{kb} {v['chunks']} chunks {v['chunks'] / v['seconds']:.1f}/s" for kb, v in r["ingest"].items()]
        print(f"  {r['preset']:13s} " + "   ".join(parts))
    print(f"\n{'set':16s} {'mode':8s}" + "".join(f" {r['preset']:>25s}" for r in results))
    print(f"{'':16s} {'':8s}" + "".join(f" {'hit@1 hit@5 MRR@10':>25s}" for _ in results))
    for name in results[0]["sets"]:
        for mode in ("dense", "keyword", "hybrid"):
            cells = []
            for r in results:
                m = rank_metrics([[f for _, _, f in row[mode][:10]] for row in r["sets"][name]])
                cells.append(f"{m.hit_at_1:.3f} {m.hit_at_5:.3f} {m.mrr_at_10:.3f}")
            n = len(results[0]["sets"][name])
            print(f"{name + f' ({n})':16s} {mode:8s}" + "".join(f" {c:>25s}" for c in cells))
    print("\nhybrid re-fused at each dense weight: MRR@10 (hit@5)")
    for r in results:
        print(f"  {r['preset']}")
        print(f"    {'set':16s}" + "".join(f" {w:>11.1f}" for w in WEIGHTS))
        for name, rows in r["sets"].items():
            cells = [rank_metrics([fused(row, w) for row in rows]) for w in WEIGHTS]
            print(f"    {name:16s}" + "".join(f" {m.mrr_at_10:.3f}({m.hit_at_5:.2f})" for m in cells))
    print(f"\nchat.score_threshold {THRESHOLD}: median top-1 score, and questions with none above it")
    print(f"  {'preset':13s} {'questions':22s}" + "".join(f" {mode:>14s}" for mode, _ in MODES))
    for r in results:
        lines = {f"off-topic {name}": answers for name, answers in r["offtopic"].items()}
        for name in ("en headings", "zh headings", "en paraphrases", "zh paraphrases"):
            lines[name] = {mode: [[h[1] for h in row[mode][:1]] for row in r["sets"][name]] for mode, _ in MODES}
        for name, by_mode in lines.items():
            cells = []
            for mode, _ in MODES:
                top = sorted(hits[0] if hits else 0.0 for hits in by_mode[mode])
                cells.append(f"{top[len(top) // 2]:.2f} {sum(s < THRESHOLD for s in top):3d}/{len(top):<3d}")
            print(f"  {r['preset']:13s} {name:22s}" + "".join(f" {c:>14s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["minilm", "multilingual"])
    parser.add_argument("--save", type=Path, help="write the raw results (JSON) here")
    parser.add_argument("--load", type=Path, help="print a saved run instead of running one")
    parser.add_argument("--write-qa", type=Path, help="write zh.jsonl / en.jsonl for `kb-server eval --qa` and stop")
    args = parser.parse_args()
    if args.write_qa:
        args.write_qa.mkdir(parents=True, exist_ok=True)
        for language in ("zh", "en"):
            lines = [json.dumps(q, ensure_ascii=False) for q in paraphrases(language)]
            (args.write_qa / f"{language}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    if args.load:
        results = json.loads(args.load.read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="kb-retrieval-presets-") as tmp:
            results = [run_preset(preset, Path(tmp)) for preset in args.presets]
        if args.save:
            args.save.write_text(json.dumps(results))
    report(results)


if __name__ == "__main__":
    main()
