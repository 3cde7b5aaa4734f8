"""`qa serve`: open the index, start the Gradio app on a host and port, guard it with a login."""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import time
from pathlib import Path

from qa.errors import InvalidInput
from qa.index import Index, ready_index
from qa.settings import demo_uploads, malloc_arena_max_set
from qa.web.app import make_app
from qa.web.uploads import MAX_UPLOAD_BYTES

# Gradio keeps a copy of the page's component config (~37 KB) for every session it has seen,
# 10,000 by default, and each call of the plain HTTP API (`/gradio_api/call/ask` without a session)
# is a new session: memory grew ~55 MB per 1,000 questions until that cap. Oldest sessions go first;
# a browser tab idle through this many other sessions starts a fresh conversation.
SESSION_CAPACITY = 1000
MALLOC_ARENAS = 2  # see limit_malloc_arenas


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, auth: tuple[str, str] | None) -> str | None:
    if is_loopback(host) or auth is not None:
        return None
    return (f"serving on {host} without --auth: anyone who can reach this machine can read the documents "
            "and add files to the index")


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise InvalidInput("--auth takes user:password")
    return user, password


def launch(demo, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           max_upload_bytes: int = MAX_UPLOAD_BYTES, block: bool = True, quiet: bool = False):
    """Start serving `demo`; with block=False return at once (the server runs in a thread)."""
    options = getattr(demo, "qa_launch_options", {})
    return demo.launch(
        server_name=host, server_port=port, auth=auth, max_file_size=max_upload_bytes,
        prevent_thread_lock=not block, quiet=quiet, show_error=False, ssr_mode=False, footer_links=["api"],
        state_session_capacity=SESSION_CAPACITY,
        **options,
    )


def open_index(index: str | Path | None, sources: str | Path | None, demo: bool = False) -> Index:
    """The Index to serve: the demo over the bundled seeds, a new one built over `sources`, or the
    one at `index` (default ./index) refreshed from its recorded sources (qa.index.ready_index)."""
    if not demo and sources is not None and not Index(index).exists():
        ix = Index(index)
        print(f"qa: building the index {ix.path} over {sources} (first use)…", file=sys.stderr, flush=True)
        print(ix.build([sources], progress=False).summary(), file=sys.stderr, flush=True)
    return ready_index(index, demo=demo)


def sources_folder(ix: Index, sources: str | Path | None) -> Path | None:
    """Where uploads are saved: `sources`, else the index's first recorded source folder (so the
    next refresh from those sources keeps them); None when there is no such folder."""
    if sources is not None:
        return Path(sources)
    folders = ix.stats().get("sources") or []
    return next((Path(f) for f in folders if Path(f).is_dir() and os.access(f, os.W_OK)), None)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's per-thread malloc arenas (a server runs dozens of worker threads).

    Each thread otherwise gets an arena of its own, up to 8 per core, and freed memory scattered
    over them is rarely returned. In `benchmarks/load.py` (one run each, shared machine) RSS peaked
    94 and 122 MB above its warm level without the cap, 59 and 94 MB with it, at the same
    throughput; it rises and falls with the number of worker threads. MALLOC_ARENA_MAX in the
    environment wins. False where this is not glibc."""
    if malloc_arena_max_set() or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None).mallopt(-8, arenas) == 1  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def serve(index: str | Path | None = None, sources: str | Path | None = None, host: str = "127.0.0.1",
          port: int = 7860, auth: str | None = None, max_upload_mb: float = 50,
          reranker: str | Path | None = None, demo: bool = False) -> None:
    started = time.perf_counter()
    limit_malloc_arenas()
    credentials = parse_auth(auth)
    ix = open_index(index, sources, demo)
    if reranker is not None:
        from qa.rerank import Reranker

        Reranker.shared(reranker)  # a bad folder stops the server here, not at the first question
        ix.reranker = reranker
    folder = demo_uploads() if demo and sources is None else sources_folder(ix, sources)
    # Load the model while Gradio is imported and started, so the first person does not wait for it.
    warm = threading.Thread(target=ix.ask, args=("warm up",), daemon=True)
    warm.start()
    warning = exposure_warning(host, credentials)
    if warning:
        print(f"qa: WARNING: {warning}", file=sys.stderr, flush=True)
    limit = int(max_upload_mb * 2**20)
    demo = make_app(ix, folder, max_upload_bytes=limit)
    launch(demo, host, port, credentials, limit, block=False, quiet=True)
    warm.join()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    uploads = f"uploads go to {folder}" if folder else "uploads are off: give --sources FOLDER"
    print(f"qa: serving {ix.path} at http://{shown}:{port} ({uploads}; ready in "
          f"{time.perf_counter() - started:.1f} s; Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
