"""A script author's first session, written against a client generated from /api/openapi.json.

Run by tests/integration/automation.rs after it has generated the package `contextbay_client`
with openapi-python-client (see docs/automation.md). Only the generated client talks to the
master here: no hand-written HTTP. Every call is made with `raise_on_unexpected_status=True`, so
a status the document does not declare for an operation fails the script, and every answer is
parsed into the generated model the document declares for it.

    CONTEXTBAY_API_KEY=cb_… PYTHONPATH=<generated client> python client_test.py \
        --base-url http://127.0.0.1:8080 --document openapi.json --endpoint local \
        --image contextbay-test/busybox:latest --network NET --name NAME --node NODE

Exits 0 when every step passed; any failure raises (exit 1) with the step that failed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import typing

import attrs
from contextbay_client import AuthenticatedClient
from contextbay_client.models import ErrorBody
from contextbay_client.types import Response
from openapi_python_client.config import ConfigFile
from openapi_python_client.strings import PythonIdentifier

METHODS = ("get", "put", "post", "delete", "patch")


class Operations:
    """The generated functions, found by the route they call rather than by name.

    The generator names a function after its operation's `operationId` (in snake case) and puts
    it in the module of its first tag: `contextbay_client.api.<tag>.<operation id>`. The route
    is what the API promises; the name is the document's choice, so the script asks the document
    (with the generator's own naming rule) which function calls `GET /api/nodes`.
    """

    def __init__(self, document: dict):
        self.routes = {
            (method.upper(), path): op
            for path, item in document["paths"].items()
            for method, op in item.items()
            if method in METHODS
        }
        self.field_prefix = ConfigFile().field_prefix

    def __call__(self, route: str):
        method, path = route.split(" ", 1)
        op = self.routes.get((method, path))
        if op is None:
            raise AssertionError(f"{route} is not in the document")
        if not op.get("operationId") or not op.get("tags"):
            raise AssertionError(f"{route} has no operationId or no tag in the document")
        tag = PythonIdentifier(op["tags"][0], prefix="tag")
        name = PythonIdentifier(op["operationId"], prefix=self.field_prefix)
        module = importlib.import_module(f"contextbay_client.api.{tag}.{name}")
        # Two operations of one tag with the same operationId would share (overwrite) a module:
        # check that this one calls the route asked for.
        source = inspect.getsource(module._get_kwargs)
        if f'"method": "{method.lower()}"' not in source or f'"url": "{path}"' not in source:
            raise AssertionError(f"{route}: the generated {module.__name__} calls another route")
        return module

    def unreachable(self) -> list[str]:
        """The document's operations that have no generated function of their own."""
        missing = []
        for method, path in sorted(self.routes):
            try:
                self(f"{method} {path}")
            except (AssertionError, ImportError) as e:
                missing.append(str(e))
        return missing

    def body_model(self, route: str):
        """The generated model of the operation's JSON body."""
        return typing.get_type_hints(self(route).sync_detailed)["body"]


def step(what: str) -> None:
    print(f"--> {what}", flush=True)


def expect(response: Response, status: int, what: str):
    """The parsed body of `response`, which must have `status`; anything else fails loudly."""
    if int(response.status_code) != status:
        raise AssertionError(
            f"{what}: expected {status}, got {int(response.status_code)}: "
            f"{response.content[:500]!r}"
        )
    return response.parsed


def expect_error(response: Response, status: int, code: str, what: str) -> ErrorBody:
    """An error answer: `status`, parsed into the generated `ErrorBody`, with `code`."""
    body = expect(response, status, what)
    if not isinstance(body, ErrorBody):
        raise AssertionError(f"{what}: the error was not parsed into ErrorBody: {body!r}")
    if str(body.code) != code:
        raise AssertionError(f"{what}: expected code {code}, got {body.code}: {body.error}")
    if not body.error or not body.request_id:
        raise AssertionError(f"{what}: error message or request id missing: {body!r}")
    if response.headers.get("x-request-id") != body.request_id:
        raise AssertionError(f"{what}: the body's request id is not the x-request-id header")
    return body


def check_page(page, what: str) -> None:
    """The page object every list answers: items, total, limit, offset."""
    for attr in ("items", "total", "limit", "offset"):
        if not hasattr(page, attr):
            raise AssertionError(f"{what}: the page has no {attr}: {page!r}")
    if page.total < len(page.items) or page.offset < 0 or not 1 <= page.limit <= 500:
        raise AssertionError(f"{what}: inconsistent page {page.to_dict()!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--document", required=True, help="the openapi.json the client came from")
    parser.add_argument("--endpoint", required=True, help="endpoint id to create the container on")
    parser.add_argument("--image", required=True)
    parser.add_argument("--network", required=True, help="an --internal network to attach to")
    parser.add_argument("--name", required=True, help="the container's name")
    parser.add_argument("--node", required=True, help="the name of a node the fleet has")
    args = parser.parse_args()
    key = os.environ.get("CONTEXTBAY_API_KEY", "")
    if not key.startswith("cb_"):
        parser.error("CONTEXTBAY_API_KEY must hold an API key (cb_…)")
    with open(args.document, encoding="utf-8") as f:
        op = Operations(json.load(f))

    # operationIds are unique, so every operation of the document has a generated function.
    unreachable = op.unreachable()
    if unreachable:
        raise AssertionError("operations the generated client lacks:\n" + "\n".join(unreachable))

    # An API key goes in the X-API-Key header, without a prefix. Undeclared statuses raise.
    client = AuthenticatedClient(
        base_url=args.base_url,
        token=key,
        prefix="",
        auth_header_name="X-API-Key",
        raise_on_unexpected_status=True,
    )
    with client:
        step("who am I (GET /api/auth/me)")
        caller = expect(op("GET /api/auth/me").sync_detailed(client=client), 200, "me")
        if caller.to_dict().get("auth_method") != "api_key":
            raise AssertionError(f"authenticated, but not by the API key: {caller.to_dict()!r}")

        step("list nodes, one page at a time (GET /api/nodes)")
        list_nodes = op("GET /api/nodes")
        names: list[str] = []
        offset, total = 0, None
        while total is None or offset < total:
            page = expect(
                list_nodes.sync_detailed(client=client, limit=1, offset=offset), 200, "nodes"
            )
            check_page(page, "nodes")
            if page.limit != 1 or page.offset != offset or len(page.items) != 1:
                raise AssertionError(f"nodes: expected one node at {offset}: {page.to_dict()!r}")
            names += [node.name for node in page.items]
            offset, total = offset + page.limit, page.total
        if args.node not in names:
            raise AssertionError(f"nodes: {args.node} is not among {names}")
        print(f"    {total} node(s): {', '.join(names)}")

        step("an out-of-range limit is a 400 with the error body")
        error = expect_error(
            list_nodes.sync_detailed(client=client, limit=0), 400, "bad_request", "limit=0"
        )
        # Where the document declares the error body's `field`, the parameter must be named.
        if "field" in attrs.fields_dict(ErrorBody) and error.field != "limit":
            raise AssertionError(f"the 400 names field {error.field!r}, not limit")
        print(f"    {error.code}: {error.error} (request {error.request_id})")

        step(f"create and start container {args.name} (POST /api/containers)")
        spec = op.body_model("POST /api/containers").from_dict(
            {
                "image": args.image,
                "name": args.name,
                "endpoint": args.endpoint,
                "command": ["sh", "-c", "echo hello-from-the-generated-client; sleep 600"],
                "networks": [args.network],
                "labels": {"contextbay.test": "1"},
                "start": True,
            }
        )
        created = expect(
            op("POST /api/containers").sync_detailed(client=client, body=spec),
            201,
            "create container",
        )
        container_id = created.to_dict().get("id")
        if not container_id:
            raise AssertionError(f"create container: no id in {created.to_dict()!r}")

        step("read it back by name (GET /api/containers/{id})")
        get_container = op("GET /api/containers/{id}")
        view = expect(
            get_container.sync_detailed(args.name, client=client, endpoint=args.endpoint),
            200,
            "get container",
        ).to_dict()
        if view.get("id") != container_id or view.get("state") != "running":
            raise AssertionError(f"get container: not {container_id} running: {view!r}")

        step("find it in the list (GET /api/containers)")
        listed = expect(
            op("GET /api/containers").sync_detailed(
                client=client, endpoint=args.endpoint, name=args.name
            ),
            200,
            "list containers",
        )
        check_page(listed, "containers")
        if not isinstance(getattr(listed, "errors", None), list) or listed.errors:
            raise AssertionError(f"containers: errors missing or not empty: {listed.to_dict()!r}")
        if [c.to_dict().get("name") for c in listed.items] != [args.name]:
            raise AssertionError(f"containers: expected only {args.name}: {listed.to_dict()!r}")

        step("remove it (DELETE /api/containers/{id})")
        expect(
            op("DELETE /api/containers/{id}").sync_detailed(
                container_id, client=client, endpoint=args.endpoint, force=True
            ),
            204,
            "remove container",
        )

        step("it is gone: a 404 parsed into ErrorBody")
        gone = get_container.sync_detailed(container_id, client=client, endpoint=args.endpoint)
        error = expect_error(gone, 404, "not_found", "get removed container")
        print(f"    {error.code}: {error.error} (request {error.request_id})")

        step("read the events of its life (GET /api/activity?type=container.*)")
        activity = op("GET /api/activity")
        seen = {"container.created": False, "container.removed": False}
        # Both are stored as their change commits, before the call answers; read the feed once.
        feed = expect(
            activity.sync_detailed(client=client, type_="container.*", limit=100), 200, "activity"
        )
        for event in feed.items:
            payload = event.payload.to_dict()
            if event.type_ in seen and payload.get("id") == container_id:
                seen[event.type_] = True
                if payload.get("endpoint") != args.endpoint:
                    raise AssertionError(f"{event.type_} on the wrong endpoint: {payload!r}")
        if not all(seen.values()):
            kinds = [(e.type_, e.payload.to_dict()) for e in feed.items]
            raise AssertionError(f"activity: container events missing ({seen}): {kinds!r}")
        print("    container.created and container.removed are in the feed")

    print("automation client: every step passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
