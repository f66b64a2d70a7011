"""Sample texts for the int8 quality check, found offline on every machine.

Chunk-sized windows of the documentation in the standard library's own sources (prose, lists,
code examples), read with `ast` so it works under `python -OO` too, plus a few short and
non-English texts. The same interpreter always yields the same samples.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

_MODULES = (
    "argparse", "asyncio/events", "calendar", "collections/__init__", "csv", "dataclasses", "datetime",
    "decimal", "email/message", "functools", "gzip", "http/client", "inspect", "json/__init__", "logging/__init__",
    "mailbox", "pathlib/__init__", "pickle", "shutil", "smtplib", "socket", "sqlite3/__init__", "string",
    "subprocess", "tarfile", "textwrap", "threading", "typing", "unittest/case", "urllib/request", "uuid",
    "zipfile/__init__",
)  # fmt: skip

_EXTRA = (
    "How do I make a stand-alone binary from a Python script?",
    "error",
    "Les fichiers sont analysés, découpés en passages puis indexés en arrière-plan.",
    "知识库服务器在本地运行，文件不会离开这台机器。",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5",
    "| name | size | status |\n|------|------|--------|\n| a.txt | 12 KB | done |",
)

WINDOW = 520
PER_MODULE = 2


def quality_samples(limit: int = 64) -> list[str]:
    """Up to `limit` distinct texts: documentation windows of ~520 characters, then short ones."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for name in _MODULES:
        path = stdlib / f"{name}.py"
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        docs = [
            doc
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and (doc := ast.get_docstring(node))
            and len(doc) >= 300
        ]
        texts += [doc[:WINDOW] for doc in docs[:PER_MODULE]]  # few per module: varied topics
    return list(dict.fromkeys(texts))[: max(limit - len(_EXTRA), 0)] + list(_EXTRA)
