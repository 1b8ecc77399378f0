"""An MCP server built with the official Python SDK (PyPI `mcp`), for tests/integration/ai_mcp.rs.

    python mcp_server.py stdio
    python mcp_server.py http <port> <token>

Over HTTP it serves streamable HTTP at http://127.0.0.1:<port>/mcp and answers 401 to any
request without the header `X-Test-Token: <token>`. It prints `ready` on stdout once listening.
"""

import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("cb-test-tools", version="1.2.3")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def echo(text: str, shout: bool = False) -> str:
    """Echoes the text back, upper-cased when shout is true."""
    return text.upper() if shout else text


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of the server process, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ToolError(reason)


@server.tool()
def crash() -> str:
    """Kills the server process in the middle of the call."""
    os._exit(3)


def http(port: int, token: str) -> None:
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"x-test-token") != token.encode():
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"missing or wrong X-Test-Token"})
                return
        await app(scope, receive, send)

    config = uvicorn.Config(guarded, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)

    original_startup = uv.startup

    async def startup(sockets=None):
        await original_startup(sockets=sockets)
        print("ready", flush=True)

    uv.startup = startup
    uv.run()


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        http(int(sys.argv[2]), sys.argv[3])
