"""How the operator commands write: a progress bar per phase and tables with `rich` on a terminal,
plain lines otherwise (pipes, logs, CI) so the output stays readable and greppable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Literal, Protocol, TextIO

Unit = Literal["bytes", "files"]
PLAIN_INTERVAL_S = 2.0


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class Phase(Protocol):
    def update(self, completed: float, info: str = "") -> None: ...


class Display(Protocol):
    def note(self, text: str) -> None: ...

    def phase(self, label: str, total: float, unit: Unit) -> AbstractContextManager[Phase]: ...

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None: ...


def display_for(stream: TextIO) -> Display:
    return RichDisplay(stream) if is_tty(stream) else PlainDisplay(stream)


class PlainDisplay:
    def __init__(self, stream: TextIO, interval_s: float = PLAIN_INTERVAL_S) -> None:
        self.stream = stream
        self.interval_s = interval_s

    def note(self, text: str) -> None:
        self._line(text)

    @contextmanager
    def phase(self, label: str, total: float, unit: Unit) -> Iterator[Phase]:
        phase = _PlainPhase(self, label, total, unit)
        self._line(f"{label}: {phase.amount(total)}")
        yield phase
        phase.finish()

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
        if title:
            self._line(title)
        for row in cells:
            self._line("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip())

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class _PlainPhase:
    def __init__(self, display: PlainDisplay, label: str, total: float, unit: Unit) -> None:
        self.display, self.label, self.total, self.unit = display, label, total, unit
        self.started = self.last = time.monotonic()
        self.completed, self.info, self.shown = 0.0, "", ""

    def amount(self, n: float) -> str:
        return human_bytes(n) if self.unit == "bytes" else f"{n:.0f} files"

    def update(self, completed: float, info: str = "") -> None:
        self.completed, self.info = completed, info
        now = time.monotonic()
        if now - self.last >= self.display.interval_s:
            self.last = now
            self._show()

    def _text(self) -> str:
        if self.unit == "bytes":
            text = f"{self.label}: {human_bytes(self.completed)} of {human_bytes(self.total)}"
        else:
            text = f"{self.label}: {self.completed:.0f}/{self.total:.0f}"
        return f"{text}  {self.info}".rstrip()

    def _show(self) -> None:
        text = self._text()
        if text != self.shown:
            self.shown = text
            self.display.note(text)

    def finish(self) -> None:
        took = f"({time.monotonic() - self.started:.1f} s)"
        text = self._text()
        self.display.note(f"{self.label}: finished {took}" if text == self.shown else f"{text}  {took}")


class RichDisplay:
    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=stream, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False)

    @contextmanager
    def phase(self, label: str, total: float, unit: Unit) -> Iterator[Phase]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        amounts: list[ProgressColumn] = (
            [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
        )
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), *amounts, TimeElapsedColumn()]
        with Progress(*columns, TextColumn("{task.fields[info]}", markup=False), console=self.console) as progress:
            task = progress.add_task(label, total=total or None, info="")

            class _RichPhase:
                def update(self, completed: float, info: str = "") -> None:
                    progress.update(task, completed=completed, info=info)

            yield _RichPhase()

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title or None, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(Text("" if c is None else str(c)) for c in row))
        self.console.print(table)
