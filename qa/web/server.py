"""`qa serve`: open the index, then serve the Gradio chat, the JSON API (and MCP) from one FastAPI
app on one host and port, guarded by a login and/or a token."""

from __future__ import annotations

import ipaddress
import os
import socket
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


class Served:
    """A running server: the chat, the JSON API and (with mcp) the MCP endpoint, on one port."""

    def __init__(self, server, thread: threading.Thread, url: str, demo):
        self.server, self.thread, self.url, self.demo = server, thread, url, demo

    def block(self) -> None:
        """Wait until the server stops (Ctrl-C stops it)."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.demo.close(verbose=False)


def make_site(demo, index: Index | None = None, host: str = "127.0.0.1", auth: tuple[str, str] | None = None,
              api_token: str | None = None, mcp: bool = False, max_upload_bytes: int = MAX_UPLOAD_BYTES):
    """One FastAPI app: the JSON API under /api (docs at /docs), MCP at /mcp when asked for, and
    the Gradio chat mounted at / behind its login. `index`: default, the one the chat serves."""
    import contextlib

    import gradio as gr
    from fastapi import FastAPI
    from starlette.routing import Route

    from qa.web.api import Access, Guarded, make_api

    index = index if index is not None else demo.qa_index
    access = Access(login=auth, token=api_token or None)
    server = None
    if mcp:
        from qa.mcp_server import make_mcp

        server = make_mcp(index)
        # Stateless and plain JSON: every tool call is one POST, nothing is kept per client. On
        # loopback the SDK also refuses other Host and Origin headers (DNS rebinding).
        server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True, host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with server.session_manager.run() if server is not None else contextlib.nullcontext():
            yield

    site = FastAPI(title="qa", summary="Cited extractive answers from your documents", version=_version(),
                   docs_url="/docs", redoc_url=None, lifespan=lifespan)
    site.include_router(make_api(index, access))
    if server is not None:
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

        site.router.routes.append(Route("/mcp", Guarded(StreamableHTTPASGIApp(server.session_manager), access)))
    # Gradio keeps a copy of the page's config per session (see SESSION_CAPACITY).
    demo.state_session_capacity = SESSION_CAPACITY
    options = getattr(demo, "qa_launch_options", {})
    return gr.mount_gradio_app(site, demo, path="/", auth=auth, show_error=False, max_file_size=max_upload_bytes,
                               ssr_mode=False, footer_links=["api"], server_name=host, **options)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qa")
    except PackageNotFoundError:
        return "dev"


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when the port is taken: said before anything starts)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def launch(demo, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           max_upload_bytes: int = MAX_UPLOAD_BYTES, block: bool = True, quiet: bool = False,
           api_token: str | None = None, mcp: bool = False) -> Served:
    """Serve `demo` (made by make_app) with the JSON API beside it, one process, one port; with
    block=False return at once (the server runs in a thread: `.close()` stops it)."""
    import uvicorn

    site = make_site(demo, host=host, auth=auth, api_token=api_token, mcp=mcp, max_upload_bytes=max_upload_bytes)
    sock = listen(host, port)
    config = uvicorn.Config(site, log_level="error" if quiet else "warning", access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qa-serve", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the server on {host}:{port} stopped while starting")
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    served = Served(server, thread, f"http://{shown}:{port}/", demo)
    if block:
        served.block()
    return served


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
          reranker: str | Path | None = None, demo: bool = False, api_token: str | None = None,
          mcp: bool = False) -> None:
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
    served = launch(demo, host, port, credentials, limit, block=False, quiet=True, api_token=api_token, mcp=mcp)
    warm.join()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    uploads = f"uploads go to {folder}" if folder else "uploads are off: give --sources FOLDER"
    print(f"qa: serving {ix.path} at {url} ({uploads}; ready in "
          f"{time.perf_counter() - started:.1f} s; Ctrl-C stops)", file=sys.stderr, flush=True)
    print(f"qa: JSON API at {url}/api (docs at {url}/docs)" + (f", MCP at {url}/mcp" if mcp else ""),
          file=sys.stderr, flush=True)
    served.block()
