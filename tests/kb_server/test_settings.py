from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ingestion.settings import IngestionSettings
from kb_server.cli.main import build_parser
from kb_server.settings import (
    PROJECT_CONFIG,
    ChatSettings,
    SearchSettings,
    Settings,
    WorkerSettings,
    load_settings,
)
from llm.settings import LLMSettings
from tests.support.processes import REPO
from vectorstore.settings import EmbeddingSettings, RerankSettings, VectorIndexSettings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)


def test_default_yaml_documents_exactly_the_model_defaults() -> None:
    documented = yaml.safe_load(PROJECT_CONFIG.read_text())
    sections = {
        "embedding": EmbeddingSettings(),
        "vector_index": VectorIndexSettings(),
        "ingestion": IngestionSettings(),
        "worker": WorkerSettings(),
        "search": SearchSettings(),
        "rerank": RerankSettings(),
        "chat": ChatSettings(),
        "llm": LLMSettings(),
    }
    for name, model in sections.items():
        assert documented.pop(name) == model.model_dump(mode="json"), name
    top = {}
    for key, field in Settings.model_fields.items():
        if key in sections:
            continue
        value = field.get_default(call_default_factory=True)
        top[key] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    top["data_dir"] = str(top["data_dir"])
    assert documented == top


def test_environment_overrides_config_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("port: 1234\ningestion:\n  chunk_size: 400\nembedding:\n  batch_size: 8\n")
    settings = load_settings(config)
    assert (settings.port, settings.ingestion.chunk_size, settings.embedding.batch_size) == (1234, 400, 8)
    assert settings.ingestion.chunk_overlap == 150  # untouched keys keep their defaults

    monkeypatch.setenv("KB_PORT", "9999")
    monkeypatch.setenv("KB_INGESTION__CHUNK_SIZE", "500")
    settings = load_settings(config)
    assert (settings.port, settings.ingestion.chunk_size) == (9999, 500)
    assert load_settings(config, port=7000).port == 7000  # command-line flags win over everything


def test_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(data_dir=Path("here")).data_dir == tmp_path / "here"
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "env"))
    assert load_settings().data_dir == tmp_path / "env"


def test_bad_settings_are_refused_with_the_key_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        load_settings()
    monkeypatch.delenv("KB_PORT")
    typo = tmp_path / "typo.yaml"
    typo.write_text("prot: 80\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(typo)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.yaml")
    monkeypatch.setenv("KB_INGESTION__TASK_TIME_LIMIT_S", "600")
    with pytest.raises(ValidationError, match="task_soft_time_limit_s"):
        load_settings()


def test_database_storage_needs_a_postgresql_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_STORAGE__BACKEND", "database")
    with pytest.raises(ValidationError, match=r"storage\.backend: database keeps the bytes in the catalog"):
        load_settings()  # the catalog would be SQLite in the data dir
    monkeypatch.setenv("KB_DATABASE_URL", "sqlite:////tmp/kb.sqlite3")
    with pytest.raises(ValidationError, match="KB_DATABASE_URL=postgresql"):
        load_settings()
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql+psycopg://kb@db/kb")
    assert load_settings().storage.backend == "database"
    monkeypatch.setenv("KB_STORAGE__BACKEND", "s3")
    with pytest.raises(ValidationError, match=r"storage\.backend"):
        load_settings()


def test_cli_help_lists_the_commands_and_their_options() -> None:
    parser = build_parser()
    text = parser.format_help()
    for command in ("up", "api", "worker"):
        assert command in text
    done = subprocess.run(
        [sys.executable, "-m", "kb_server", "up", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0
    for option in ("--host", "--port", "--data-dir", "--config"):
        assert option in done.stdout


def test_cli_rejects_an_invalid_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: -5\n")
    done = subprocess.run(
        [sys.executable, "-m", "kb_server", "worker", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid configuration" in done.stderr
    assert "port" in done.stderr
