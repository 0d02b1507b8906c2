"""Where the function's log lines go: kept for /_emulator/logs, echoed, appended to --log-file, and
captured for the invocation they belong to (LogType=Tail, the harness's joins)."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import TextIO

KEPT_LINES = 20_000


class LogSink:
    def __init__(self, *, echo: TextIO | None = None, log_file: Path | None = None) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=KEPT_LINES)
        self.total = 0  # lines ever logged (the deque keeps the latest)
        self._echo = echo
        self._file = log_file.open("a") if log_file else None
        self._capture: dict[str, list[str]] = {}
        self._unwritten: list[str] = []  # echo / --log-file lines, written once per loop iteration

    def capture(self, request_id: str) -> None:
        """Start keeping the lines of this invocation (until `release`)."""
        self._capture[request_id] = []

    def captured(self, request_id: str) -> list[str]:
        return list(self._capture.get(request_id, []))

    def release(self, request_id: str) -> None:
        self._capture.pop(request_id, None)

    def log(self, line: str, request_id: str | None = None) -> None:
        self.lines.append(line)
        self.total += 1
        if request_id in self._capture:
            self._capture[request_id].append(line)
        if self._echo is not None or self._file is not None:
            # Written together at the end of this loop iteration: END and REPORT then go out in one
            # write, after the response rather than before it.
            if not self._unwritten:
                try:
                    asyncio.get_running_loop().call_soon(self.flush)
                except RuntimeError:  # not on the service's loop: write now
                    self._unwritten.append(line)
                    self.flush()
                    return
            self._unwritten.append(line)

    def since(self, after: int) -> tuple[list[str], int]:
        """Lines logged after the first `after` ever logged (those still kept), and the next cursor."""
        kept = list(self.lines)
        first = self.total - len(kept)  # index of the oldest line still kept
        return kept[max(0, after - first):], self.total

    def flush(self) -> None:
        if not self._unwritten:
            return
        text = "\n".join(self._unwritten) + "\n"
        self._unwritten.clear()
        for stream in (self._echo, self._file):
            if stream is not None:
                stream.write(text)
                stream.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
