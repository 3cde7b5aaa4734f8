"""`qa watch`: keep an index in step with folders as files appear, change or go."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from qa.errors import IndexProblem, NoSources
from qa.index import Index


def watch(
    index: Index,
    paths: list[str | Path],
    debounce: float = 1.0,
    poll: bool = False,
    log: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Sync now, then after every burst of file events (quiet for `debounce` s), until `stop` is set.

    Each sync is an ordinary incremental build: unchanged files cost a stat and a hash, changed
    ones are re-chunked, and vectors come from the embedding cache when the text is known.
    """
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    stop = stop or threading.Event()
    changed = threading.Event()
    last_event = [0.0]

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event):
            if event.event_type in ("opened", "closed_no_write"):
                return
            last_event[0] = time.monotonic()
            changed.set()

    def sync() -> None:
        try:
            report = index.build(paths, progress=False)
        except (NoSources, IndexProblem, OSError) as e:
            log(f"qa watch: not updated: {e}")
            return
        if report.version or report.problems:
            log(report.summary())

    sync()
    observer = PollingObserver(timeout=debounce) if poll else Observer()
    for p in paths:
        observer.schedule(OnChange(), str(p), recursive=True)
    observer.start()
    log(f"qa watch: watching {', '.join(map(str, paths))} for changes (Ctrl-C to stop)")
    try:
        while not stop.is_set():
            if changed.wait(timeout=0.2) and time.monotonic() - last_event[0] >= debounce:
                changed.clear()
                sync()
    finally:
        observer.stop()
        observer.join(timeout=5)
