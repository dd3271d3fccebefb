"""Reading the zstd layer: decompression that tells a truncated stream from a whole one."""

from __future__ import annotations

from typing import IO, cast

import zstandard

from homeport.domain.backup_archive.format import CHUNK, ArchiveError

_ZSTD_MAGIC = 0xFD2FB528


class _FrameTracker:
    """Follows zstd frame and block boundaries in the compressed bytes.

    python-zstandard's stream reader reports a clean end of stream when its input stops
    in the middle of a frame; following the block headers tells a truncated archive from
    a complete one without a second decompression.
    """

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4
        self._field = bytearray()
        self._skip = 0
        self._last_block = False
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self.frames > 0 and self._state == "magic" and not self._field and self._skip == 0

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                if self._skip == 0:
                    self._after_block()
                continue
            take = min(self._need - len(self._field), end - pos)
            self._field += data[pos : pos + take]
            pos += take
            if len(self._field) == self._need:
                value = bytes(self._field)
                self._field.clear()
                self._parse(value)

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _parse(self, value: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(value, "little")
            if magic == _ZSTD_MAGIC:
                self._expect("descriptor", 1)
            elif 0x184D2A50 <= magic <= 0x184D2A5F:
                self._expect("skippable", 4)
            else:
                raise ArchiveError(
                    "the archive is corrupt: not zstd data where a frame should start"
                )
        elif state == "descriptor":
            flags = value[0]
            if flags & 0x08:
                raise ArchiveError("the archive is corrupt: invalid zstd frame header")
            single_segment = (flags >> 5) & 1
            self._checksum = bool((flags >> 2) & 1)
            rest = (0 if single_segment else 1) + (0, 1, 2, 4)[flags & 3]
            rest += (single_segment, 2, 4, 8)[flags >> 6]
            if rest:
                self._expect("frame header", rest)
            else:
                self._expect("block", 3)
        elif state == "frame header":
            self._expect("block", 3)
        elif state == "block":
            header = int.from_bytes(value, "little")
            kind = (header >> 1) & 3
            if kind == 3:
                raise ArchiveError("the archive is corrupt: invalid zstd block")
            self._last_block = bool(header & 1)
            self._skip = 1 if kind == 1 else header >> 3
            self._state = "block data"
            if self._skip == 0:
                self._after_block()
        elif state == "checksum":
            self._frame_done()
        elif state == "skippable":
            self._skip = int.from_bytes(value, "little")
            self._last_block = True
            self._checksum = False
            self._state = "skippable data"
            if self._skip == 0:
                self._after_block()

    def _after_block(self) -> None:
        if self._state == "skippable data":
            self._expect("magic", 4)
        elif not self._last_block:
            self._expect("block", 3)
        elif self._checksum:
            self._expect("checksum", 4)
        else:
            self._frame_done()

    def _frame_done(self) -> None:
        self.frames += 1
        self._expect("magic", 4)


class _TrackingSource:
    """The compressed input, as seen by the decompressor: counted and frame-tracked."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.tracker = _FrameTracker()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self.count += len(data)
            self.tracker.feed(data)
        return data


class Decoder:
    """Produces decompressed chunks of at most 1 MiB, or ``b""`` at a clean end."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.source = _TrackingSource(stream)
        # A frame may ask for a window of up to 2 GiB; archives from this module use at
        # most a few MiB, so anything above 32 MiB is refused rather than allocated.
        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 25)
        self._reader = dctx.stream_reader(
            cast(IO[bytes], self.source), read_size=CHUNK, read_across_frames=True, closefd=False
        )

    def read(self) -> bytes:
        try:
            data = self._reader.read(CHUNK)
        except zstandard.ZstdError as exc:
            raise ArchiveError(f"the archive is corrupt (zstd: {_zstd_reason(exc)})") from None
        if not data and not self.source.tracker.complete:
            if self.source.count == 0:
                raise ArchiveError("the archive is empty")
            raise ArchiveError("the archive is truncated: its zstd stream ends mid-frame")
        return data


def _zstd_reason(exc: Exception) -> str:
    text = str(exc)
    return text.removeprefix("zstd decompress error: ")
