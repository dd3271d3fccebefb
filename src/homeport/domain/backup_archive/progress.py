"""Progress reports for backups, verifications and restores, and their throttling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_MAX_NOTES = 200


@dataclass(frozen=True)
class Progress:
    """How far a backup, verification or restore has gone.

    ``phase`` is ``"backup"``, ``"verify"`` or ``"restore"``. ``note`` is non-empty when
    the report carries a remark for the activity log (a skipped socket, a file that
    changed while it was read, a link left out of a restore).
    """

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    phase: str = "backup"
    note: str = ""

    @property
    def percent(self) -> int:
        """Completion from 0 to 100, counting each file as 4 KiB of work besides its bytes."""
        # Weighting files as well as bytes keeps the figure moving through trees of
        # many tiny files, where bytes alone would barely change.
        total = self.bytes_total + 4096 * self.files_total
        if total <= 0:
            return 100
        done = self.bytes_done + 4096 * self.files_done
        return max(0, min(100, done * 100 // total))


ProgressCallback = Callable[[Progress], None]


class Reporter:
    """Counts work and calls the caller's callback at most every ``interval`` seconds."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        phase: str,
        files_total: int,
        bytes_total: int,
        interval: float,
    ) -> None:
        self._callback = callback
        self.phase = phase
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self._interval = interval
        self._last = time.monotonic()
        self.notes: list[str] = []
        self._dropped_notes = 0

    def _emit(self, note: str = "") -> None:
        if self._callback is None:
            return
        self._last = time.monotonic()
        self._callback(
            Progress(
                files_done=self.files_done,
                # A tree that grows during a backup must not report more than 100 %.
                files_total=max(self.files_total, self.files_done),
                bytes_done=self.bytes_done,
                bytes_total=max(self.bytes_total, self.bytes_done),
                phase=self.phase,
                note=note,
            )
        )

    def advance(self, files: int, nbytes: int) -> None:
        self.files_done += files
        self.bytes_done += nbytes
        if self._callback is not None and (
            self._interval <= 0 or time.monotonic() - self._last >= self._interval
        ):
            self._emit()

    def note(self, text: str) -> None:
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(text)
        else:
            self._dropped_notes += 1
        self._emit(text)

    def all_notes(self) -> tuple[str, ...]:
        if self._dropped_notes:
            return (*self.notes, f"... and {self._dropped_notes} more notes")
        return tuple(self.notes)

    def finish(self) -> None:
        self._emit()
