"""Progress of a batch run: a tqdm bar on a terminal, plain log lines otherwise, nothing with quiet."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TextIO

__all__ = ["BatchEvent", "Progress", "make_progress"]

Mode = Literal["auto", "bar", "plain", "quiet"]


@dataclass(frozen=True)
class BatchEvent:
    """One progress event: ``step`` (``load``, ``spill``, ``score``, ``lead_list``, ``forecast_periods``,
    ``drift``, ``publish``), ``status`` (``start``, ``advance``, ``done``, ``info``), a message, and for
    ``score``: partitions done and in all."""

    step: str
    status: str
    message: str
    done: int | None = None
    total: int | None = None

    def __str__(self) -> str:
        return self.message


class Progress:
    """Receives :class:`BatchEvent`; the base class forwards them to a callback (or drops them)."""

    def __init__(self, callback: Callable[[BatchEvent], None] | None = None) -> None:
        self._callback = callback

    def emit(self, event: BatchEvent) -> None:
        if self._callback is not None:
            self._callback(event)

    def close(self) -> None:
        return None


class _Plain(Progress):
    """One line per event on ``stream`` (for logs: cron mail, Airflow task logs)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._t0 = time.perf_counter()

    def emit(self, event: BatchEvent) -> None:
        if event.status == "advance" and event.done is not None and event.total is not None:
            step = max(1, event.total // 20)  # at most ~20 lines for the partitions
            if event.done % step and event.done != event.total:
                return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        print(f"{stamp} crmml batch [{event.step}] {event.message}", file=self._stream, flush=True)


class _Bar(_Plain):
    """A tqdm bar over the partitions; other events as lines written around it."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._bar: Any = None

    def emit(self, event: BatchEvent) -> None:
        from tqdm.auto import tqdm

        if event.step == "score" and event.status == "start" and event.total is not None:
            self._bar = tqdm(total=event.total, initial=event.done or 0, desc="scoring partitions", unit="part",
                             file=self._stream, dynamic_ncols=True, leave=True)
            return
        if event.step == "score" and event.status == "advance" and self._bar is not None:
            self._bar.update((event.done or 0) - self._bar.n)
            self._bar.set_postfix_str(event.message, refresh=True)
            return
        if event.step == "score" and event.status == "done" and self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._bar is not None:
            self._bar.write(event.message, file=self._stream)
        else:
            print(event.message, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(mode: Mode | Callable[[BatchEvent], None] | None, stream: TextIO | None = None) -> Progress:
    """``"auto"``: a bar when ``stream`` (default stderr) is a terminal, plain lines otherwise;
    ``"bar"``, ``"plain"``, ``"quiet"`` (or None); or a callable receiving every :class:`BatchEvent`."""
    stream = sys.stderr if stream is None else stream
    if callable(mode):
        return Progress(mode)
    if mode is None or mode == "quiet":
        return Progress(None)
    if mode == "auto":
        mode = "bar" if getattr(stream, "isatty", lambda: False)() else "plain"
    return _Bar(stream) if mode == "bar" else _Plain(stream)
