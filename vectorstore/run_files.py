"""Per-file artefacts named by the run that wrote them: `<folder>/<file_id>.<run><suffix>`.

A run writes under its own number and the catalog row says which run is the file's generation,
so a dead or superseded run can never overwrite what readers load; `prune` removes the rest once
the new generation is committed. `<file_id><suffix>` (no run) is how data dirs from before run
numbers name a file's only artefact; readers fall back to it.
"""

from __future__ import annotations

from pathlib import Path

from vectorstore.byte_store import ByteStore, local_path


class RunFiles:
    def __init__(self, store: ByteStore, folder: str, suffix: str) -> None:
        self.store, self.folder, self.suffix = store, folder, suffix

    def name(self, file_id: int, run: int) -> str:
        return f"{self.folder}/{int(file_id)}.{int(run)}{self.suffix}"

    def path(self, file_id: int, run: int) -> Path:
        """Where a local store keeps that run's artefact (see `byte_store.local_path`)."""
        return local_path(self.store, self.name(file_id, run))

    def legacy(self, file_id: int) -> str:
        return f"{self.folder}/{int(file_id)}{self.suffix}"

    def existing(self, file_id: int, run: int) -> str:
        """The artefact of that run, else the pre-run-number one (which may not exist either)."""
        name = self.name(file_id, run)
        return name if self.store.exists(name) else self.legacy(file_id)

    def read(self, file_id: int, run: int) -> bytes | None:
        """The artefact of that run (else the pre-run-number one), None if neither exists."""
        data = self.store.read(self.name(file_id, run))
        return data if data is not None else self.store.read(self.legacy(file_id))

    def write(self, file_id: int, run: int, data: bytes) -> None:
        self.store.write(self.name(file_id, run), [data])

    def runs(self, file_id: int) -> list[int]:
        """Runs with a stored artefact (0 stands for the legacy name)."""
        found = []
        for name in self.store.names(self.folder, start=str(int(file_id))):
            parsed = self._parse(name)
            if parsed is not None and parsed[0] == file_id:
                found.append(parsed[1])
        return sorted(found)

    def file_ids(self) -> list[int]:
        return sorted({parsed[0] for n in self.store.names(self.folder) if (parsed := self._parse(n))})

    def remove(self, file_id: int, *, keep: int | None = None) -> None:
        for run in self.runs(file_id):
            if run != keep:
                self.store.delete(self.legacy(file_id) if run == 0 else self.name(file_id, run))

    def remove_run(self, file_id: int, run: int) -> None:
        self.store.delete(self.name(file_id, run))

    def _parse(self, name: str) -> tuple[int, int] | None:
        folder, _, base = name.rpartition("/")
        if folder != self.folder or not base.endswith(self.suffix) or base.startswith("."):
            return None
        stem = base[: -len(self.suffix)]
        file_part, _, run_part = stem.partition(".")
        if not file_part.isdigit() or (run_part and not run_part.isdigit()):
            return None
        return int(file_part), int(run_part or 0)
