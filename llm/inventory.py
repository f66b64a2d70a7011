"""Every preset, whether its model is installed, and which one the settings use (``kb-server models``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.model_files import State, file_status
from llm.presets import PRESETS, Preset
from llm.settings import LLMSettings


@dataclass(frozen=True)
class PresetReport:
    preset: Preset
    state: State | None  # None: custom (the file is llm.model_path)
    path: Path | None
    size: int | None
    sha256: str | None
    verified: bool
    missing: tuple[str, ...]
    in_use: bool

    def to_dict(self) -> dict[str, Any]:
        p = self.preset
        return {
            "name": p.name,
            "display_name": p.display_name,
            "in_use": self.in_use,
            "state": self.state,
            "path": str(self.path) if self.path else None,
            "size": self.size,
            "expected_size": p.file.size if p.file else None,
            "sha256": self.sha256,
            "sha256_verified": self.verified,
            "upstream": p.upstream,
            "licence": p.licence,
            "licence_note": p.licence_note,
            "publisher": p.publisher,
            "packages": [part.requirement for part in p.file.parts] if p.file else [],
            "missing_packages": list(self.missing),
            "install": p.install_hint,
            "n_ctx": p.n_ctx,
            "prompt_style": p.prompt_style,
        }


def list_presets(settings: LLMSettings, cache_dir: Path | None) -> list[PresetReport]:
    """One report per preset, by stat and stamp only: nothing is hashed, joined or loaded.

    ``in_use`` marks the preset whose file the llama.cpp backend would load (none when
    ``llm.model_path`` or another backend is configured; ``custom`` then shows that path).
    """
    cache_dir = settings.cache_dir or cache_dir
    local = settings.backend == "llamacpp"
    reports = []
    for preset in PRESETS.values():
        if preset.file is None:
            path = Path(settings.model_path) if settings.model_path else None
            size = path.stat().st_size if path is not None and path.is_file() else None
            in_use = local and settings.model_path is not None
            reports.append(PresetReport(preset, None, path, size, None, False, (), in_use))
            continue
        status = file_status(preset.file, cache_dir)
        in_use = local and settings.model_path is None and settings.preset == preset.name
        sha256, verified = preset.file.sha256, status.verified
        reports.append(
            PresetReport(preset, status.state, status.path, status.size, sha256, verified, status.missing, in_use)
        )
    return reports
