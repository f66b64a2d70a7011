"""Sample texts for the int8 quality check, found offline on every machine.

Chunk-sized windows of the documentation in the standard library's own sources (prose, lists,
code examples), read with `ast` so it works under `python -OO` too, plus a few short and
non-English texts. The same interpreter always yields the same samples. A multilingual model is
checked on Chinese passages too (written for this check, not copied from anywhere).
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

# Chunk-like Chinese passages: prose, a list, a config snippet, mixed Chinese and English.
_CHINESE = (
    "上传文件以后，服务器会先解析文档，再把正文切成大小相近的段落，最后为每个段落计算向量并写入索引。"
    "整个过程在后台进行，页面上的进度条会显示当前所处的阶段：排队、解析、切分、向量化和建立索引。",
    "如果一份文件被上传了两次，系统会根据内容的哈希值识别出它是同一个文件，不会重复处理，也不会在检索结果里出现两次。",
    "检索时，系统同时使用关键词匹配和语义向量两种方式，然后把两份排名合并。中文关键词由分词器切分，"
    "所以即使问题里的词语和原文的写法略有不同，也常常能找到相关的段落。",
    "常见问题：\n1. 服务器需要联网吗？不需要，所有模型都在本机运行。\n2. 支持哪些文件格式？"
    "支持 PDF、Word、网页、Markdown 和纯文本。\n3. 扫描件怎么办？会先进行文字识别。",
    "配置文件采用 YAML 格式，例如 embedding.preset: multilingual 表示使用多语言向量模型；"
    "环境变量 KB_EMBEDDING__PRESET 可以覆盖文件里的设置。",
    "在 Python 中，列表是可变的序列类型，而元组一旦创建就不能修改。需要把数据作为字典的键时，应该使用元组。",
    "这台机器只有两个处理器核心，因此向量化是最慢的一步。把模型量化为八位整数后，速度提高了一倍左右，而检索质量几乎没有变化。",
    "春天的时候，河边的柳树发出新芽，很多人在周末带着孩子去公园散步、放风筝。",
    "数据库每天凌晨自动备份一次，备份文件保存三十天。恢复数据时，请先停止服务，再用最近一次的备份覆盖数据目录。",
    "错误信息“模型不可用”通常说明没有安装对应的软件包，请按照说明重新运行安装脚本。",
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


def multilingual_samples(limit: int = 64) -> list[str]:
    """The samples of `quality_samples` with Chinese passages in place of some English windows."""
    return quality_samples(limit - len(_CHINESE)) + list(_CHINESE)
