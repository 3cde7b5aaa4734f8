"""The MCP server, driven by the `mcp` SDK's own client: over streamable HTTP inside `qa serve --mcp`
(at /mcp) and over stdio from a spawned `qa mcp` (how desktop agents launch a tool)."""

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason='the MCP server needs the mcp extra: pip install "qa[mcp]"')

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What rating did Kent get at its previous inspection in 2017?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def session(server, calls):
    """Open an MCP client on `server` (a URL, stdio parameters or a transport) and run `calls(client)`."""
    from mcp import Client

    async with Client(server, read_timeout_seconds=120) as client:
        return await calls(client)


async def round_trip(client):
    tools = await client.list_tools()
    asked = await client.call_tool("ask", {"question": QUESTION, "k": 2})
    within = await client.call_tool("ask", {"question": "What did Ofsted find?", "k": 2, "sources": ["seeds/002*"]})
    listed = await client.call_tool("documents", {})
    blank = await client.call_tool("ask", {"question": "  "})
    return tools, asked, within, listed, blank


def check_round_trip(result, index) -> None:
    from qa.service import document_list

    tools, asked, within, listed, blank = result
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == {"ask", "documents"}
    assert set(by_name["ask"].input_schema["properties"]) == {"question", "k", "sources"}
    assert by_name["ask"].input_schema["required"] == ["question"]
    # ask: readable text (the sentence, then each passage with its source and lines), then the JSON.
    expected = index.ask(QUESTION, k=2).to_dict()
    text, as_json = (c.text for c in asked.content)
    assert not asked.is_error
    assert text.startswith("Ofsted promoted Kent council from the good rating it earned in 2017")
    first = expected["passages"][0]
    assert "[1] " in text and f"{first['source']}, lines {first['line_start']}–{first['line_end']}" in text
    assert json.loads(as_json) == expected == asked.structured_content
    assert {p["source"] for p in within.structured_content["passages"]} == {"seeds/002_50547e16009b5205.txt"}
    # documents: a readable list, and the same list as /api/documents.
    assert listed.content[0].text.startswith("5 documents indexed:")
    assert json.loads(listed.content[1].text) == document_list(index)
    # a question that cannot be asked is a tool error saying why, not a crash of the server.
    assert blank.is_error and "the question is empty" in blank.content[0].text


def test_mcp_over_streamable_http_inside_qa_serve(seeds_index):
    from qa import Index
    from qa.web import launch, make_app

    port = free_port()
    served = launch(make_app(Index(seeds_index.path), None), "127.0.0.1", port, block=False, quiet=True, mcp=True)
    try:
        result = asyncio.run(session(f"http://127.0.0.1:{port}/mcp", round_trip))
    finally:
        served.close()
    check_round_trip(result, seeds_index)


def test_mcp_over_http_needs_the_token_when_the_server_has_one(seeds_index):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from qa import Index
    from qa.web import launch, make_app

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    served = launch(make_app(Index(seeds_index.path), None), "127.0.0.1", port, block=False, quiet=True, mcp=True,
                    api_token="agent-token")

    async def with_headers(headers):
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
            return await session(streamable_http_client(url, http_client=http),
                                 lambda c: c.call_tool("ask", {"question": QUESTION, "k": 1}))

    try:
        answered = asyncio.run(with_headers({"Authorization": "Bearer agent-token"}))
        with pytest.raises(Exception):
            asyncio.run(with_headers({}))
    finally:
        served.close()
    assert answered.structured_content["found"]


def test_qa_mcp_serves_the_same_tools_over_stdio(seeds_index, tmp_path):
    from mcp import StdioServerParameters

    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "HF_HUB_OFFLINE": "1", "HOME": str(Path.home())}
    params = StdioServerParameters(command=sys.executable, args=["-m", "qa.cli", "mcp", "--index", str(seeds_index.path)],
                                   env=env, cwd=tmp_path)
    with open(tmp_path / "stderr.log", "w") as errlog:
        from mcp import Client

        async def run():
            from mcp.client.stdio import stdio_client

            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=180) as client:
                return await round_trip(client)

        result = asyncio.run(run())
    check_round_trip(result, seeds_index)
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()
