"""qa as an MCP server: the tools `ask` and `documents` over one shared Index.

Served over stdio by `qa mcp` (how desktop agents launch a tool) and over streamable HTTP at
`/mcp` by `qa serve --mcp`, with the official `mcp` SDK (the `mcp` extra). `ask` returns the
answer as text a model reads (the answering sentence, then each cited passage with its source and
its lines or page) and as the same JSON as `qa ask --json` (a second text block, and the result's
structured content).
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations as live types to
# build their input schemas.
import json
from typing import Annotated, Optional

from pydantic import Field

from qa.errors import MissingExtra, QAError
from qa.index import MAX_K, Index
from qa.plain import render_text
from qa.service import ask as ask_index
from qa.service import document_list

INSTRUCTIONS = (
    "qa answers questions about a fixed set of documents with passages copied verbatim from them, "
    "each cited by file, title and lines or page; nothing is generated. Call `documents` to see what "
    "is indexed and `ask` with a question; when `found` is false the sources do not answer it."
)


def _sdk():
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.types import CallToolResult, TextContent
    except ImportError as e:
        raise MissingExtra(f'the MCP server needs the mcp package ({e.name} is missing): pip install "qa[mcp]"') from e
    return MCPServer, ToolError, CallToolResult, TextContent


def documents_text(documents: list[dict]) -> str:
    lines = [f"{len(documents)} documents indexed:"]
    for d in documents:
        credit = ", ".join(x for x in (f"by {d['author']}" if d["author"] else "", d["published"] or "", d["url"] or "") if x)
        lines.append(f"- {d['source']} — {d['title']} ({d['format']}{'; ' + credit if credit else ''})")
    return "\n".join(lines)


def make_mcp(index: Index):
    """The MCP server (an `mcp.server.mcpserver.MCPServer`) over `index`."""
    MCPServer, ToolError, CallToolResult, TextContent = _sdk()
    # log_level WARNING: the SDK configures logging when a server is made; INFO would print every request.
    server = MCPServer("qa", instructions=INSTRUCTIONS, log_level="WARNING")

    def result(text: str, data) -> CallToolResult:
        as_json = json.dumps(data, ensure_ascii=False)
        structured = data if isinstance(data, dict) else {"documents": data}
        return CallToolResult(content=[TextContent(type="text", text=text), TextContent(type="text", text=as_json)],
                              structured_content=structured)

    @server.tool(name="ask", title="Ask the documents")
    def ask(
        question: Annotated[str, Field(description="The question, in plain words.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many passages to return.")] = 5,
        sources: Annotated[Optional[list[str]], Field(description="Search only these documents: sources as "
                                                      "`documents` lists them, globs or folders.")] = None,
    ) -> CallToolResult:
        """Answer a question from the indexed documents: the answering sentence and the k best
        passages, copied verbatim, each with its source and its lines or page; then the same as JSON
        (question, found, passages with offsets). `sources` limits the search to some documents
        (source paths as `documents` lists them, globs such as "reports/*.pdf", or folders).
        When found is false, the documents do not answer it and the closest passages are shown."""
        try:
            answer = ask_index(index, question, k=k, sources=sources or None)
        except QAError as e:
            raise ToolError(str(e)) from None
        return result(render_text(answer), answer.to_dict())

    @server.tool(name="documents", title="List the indexed documents")
    def documents() -> CallToolResult:
        """Every indexed document: source (what `ask` cites and takes in `sources`), title, format,
        author, published date and URL where known."""
        try:
            docs = document_list(index)
        except QAError as e:
            raise ToolError(str(e)) from None
        return result(documents_text(docs), docs)

    return server


def serve_stdio(index: Index) -> None:
    """Serve the tools over stdin/stdout until the client closes them (`qa mcp`)."""
    make_mcp(index).run("stdio")
