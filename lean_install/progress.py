"""Progress on long work (fetching, stripping, installing): rich on a terminal, plain lines
otherwise, nothing with ``-q``. Always on stderr: stdout belongs to ``--json`` output."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["Progress", "QuietProgress", "LineProgress", "RichProgress", "make_progress"]


class Progress:
    """Reports steps; the base class reports nothing (tests subclass it to record)."""

    def step(self, label: str, total: int) -> None:
        """A new step with ``total`` items begins."""

    def advance(self, item: str) -> None:
        """One item of the current step is done."""

    def note(self, message: str) -> None:
        """A one-line message worth showing."""

    def warn(self, message: str) -> None:
        """A warning: shown even when quiet, as pip does."""
        print(f"lean-install: warning: {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """The work is over."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


QuietProgress = Progress


class LineProgress(Progress):
    """One plain line per step and per message: for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def step(self, label: str, total: int) -> None:
        print(f"lean-install: {label} ({total})", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        print(f"lean-install: {message}", file=self.stream, flush=True)


class RichProgress(Progress):
    """A rich progress bar per step, on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress as Bars

        self.console = Console(stderr=True)
        self.bars = Bars(console=self.console, transient=False)
        self.bars.start()
        self.task: TaskID | None = None

    def step(self, label: str, total: int) -> None:
        self.task = self.bars.add_task(label, total=total or 1)
        if not total:
            self.bars.update(self.task, completed=1)

    def advance(self, item: str) -> None:
        if self.task is not None:
            self.bars.update(self.task, advance=1)

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False)

    def close(self) -> None:
        self.bars.stop()


def make_progress(quiet: bool) -> Progress:
    if quiet:
        return QuietProgress()
    if sys.stderr.isatty():
        return RichProgress()
    return LineProgress()
