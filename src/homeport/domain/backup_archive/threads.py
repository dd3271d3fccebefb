"""Helper threads that overlap compression and decompression with reading and hashing."""

from __future__ import annotations

import queue
import threading
from typing import Any

from homeport.domain.backup_archive.zstd_stream import Decoder


class CompressorThread:
    """Feeds the compressor from a helper thread, a few chunks behind the reader.

    Compression releases the GIL, so reading and hashing the next file overlaps
    compressing the last one; the bounded queue bounds the memory this takes.
    """

    def __init__(self, out: Any, depth: int = 8) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backup-compress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._out.write(item)
        except BaseException as exc:  # re-raised in the writing thread
            self._error = exc
            # Keep taking items so the writer never blocks on a full queue.
            while self._queue.get() is not None:
                pass

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        """Wait for everything queued to be compressed; raise the compressor's error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop the thread after a failure elsewhere, without raising its own error."""
        self._queue.put(None)
        self._thread.join()


class ThreadedFeed:
    """Runs a decoder in a helper thread, a few chunks ahead of the consumer.

    Decompression and hashing both release the GIL, so a second thread lets inflating
    the next chunk overlap hashing and writing this one. The queue bounds the memory.
    """

    def __init__(self, decoder: Decoder, depth: int = 4) -> None:
        self._decoder = decoder
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="backup-decompress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._decoder.read()
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __call__(self) -> bytes:
        if self._done:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if not item:
            self._done = True
        return item

    def close(self) -> None:
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)
