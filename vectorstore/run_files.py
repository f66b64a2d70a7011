"""Per-file artefacts named by the run that wrote them: `<file_id>.<run><suffix>`.

A run writes under its own number and the catalog row says which run is the file's generation,
so a dead or superseded run can never overwrite what readers load; `prune` removes the rest once
the new generation is committed. `<file_id><suffix>` (no run) is how data dirs from before run
numbers name a file's only artefact; readers fall back to it.
"""

from __future__ import annotations

from pathlib import Path


class RunFiles:
    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder, self.suffix = folder, suffix

    def path(self, file_id: int, run: int) -> Path:
        return self.folder / f"{int(file_id)}.{int(run)}{self.suffix}"

    def legacy(self, file_id: int) -> Path:
        return self.folder / f"{int(file_id)}{self.suffix}"

    def existing(self, file_id: int, run: int) -> Path:
        """The artefact of that run, else the pre-run-number one (which may not exist either)."""
        path = self.path(file_id, run)
        return path if path.exists() else self.legacy(file_id)

    def runs(self, file_id: int) -> list[int]:
        """Runs with an artefact on disk (0 stands for the legacy name)."""
        found = []
        for path in self.folder.glob(f"{int(file_id)}*{self.suffix}") if self.folder.is_dir() else []:
            parsed = self._parse(path.name)
            if parsed is not None and parsed[0] == file_id:
                found.append(parsed[1])
        return sorted(found)

    def file_ids(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        ids = {parsed[0] for p in self.folder.glob(f"*{self.suffix}") if (parsed := self._parse(p.name))}
        return sorted(ids)

    def remove(self, file_id: int, *, keep: int | None = None) -> None:
        for run in self.runs(file_id):
            if run != keep:
                (self.legacy(file_id) if run == 0 else self.path(file_id, run)).unlink(missing_ok=True)

    def _parse(self, name: str) -> tuple[int, int] | None:
        if not name.endswith(self.suffix) or name.startswith("."):
            return None
        stem = name[: -len(self.suffix)]
        file_part, _, run_part = stem.partition(".")
        if not file_part.isdigit() or (run_part and not run_part.isdigit()):
            return None
        return int(file_part), int(run_part or 0)
