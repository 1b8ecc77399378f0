"""A client of ContextBay's own MCP server, built with the official Python SDK (PyPI `mcp`), for
tests/integration/ai_mcp_server.rs.

    python mcp_client.py <url> <header name> <header value> '<steps as JSON>'

Connects over streamable HTTP with the header (the API key), initializes, runs the steps in
order and prints one JSON array with their results:

    {"op": "list"}                                  -> {"tools": [{"name", "read_only", "destructive"}]}
    {"op": "call", "name": ..., "arguments": {...}} -> {"is_error": bool, "text": str}
"""

import asyncio
import json
import sys

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def attr(obj, *names):
    """The first of `names` the object has (the SDK's field names changed case across versions)."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def hint(tool, *names):
    annotations = getattr(tool, "annotations", None)
    return attr(annotations, *names) if annotations is not None else None


async def main(url: str, header: str, value: str, steps: list) -> None:
    out = []
    async with create_mcp_http_client(headers={header: value}) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                for step in steps:
                    if step["op"] == "list":
                        result = await session.list_tools()
                        out.append(
                            {
                                "tools": [
                                    {
                                        "name": t.name,
                                        "read_only": hint(t, "read_only_hint", "readOnlyHint"),
                                        "destructive": hint(t, "destructive_hint", "destructiveHint"),
                                    }
                                    for t in result.tools
                                ]
                            }
                        )
                    elif step["op"] == "call":
                        result = await session.call_tool(step["name"], step.get("arguments") or {})
                        text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                        out.append({"is_error": bool(attr(result, "is_error", "isError")), "text": text})
                    else:
                        raise SystemExit(f"unknown step {step!r}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
