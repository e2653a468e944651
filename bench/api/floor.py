"""The HTTP stack's floor for bench/api: uvicorn with the settings ``runbook serve`` uses,
answering a fixed JSON body of about a run's size, in two ways:

* ``GET /fixed``: a Starlette ``async`` route, no middleware: uvicorn and Starlette alone;
* ``GET /api/v1/fixed``: a FastAPI app mounted at ``/api/v1`` behind the engine's ``Deadline``
  middleware, a synchronous route with an ``async`` dependency that reads the bearer token on
  the thread pool: the shape of ``GET /api/v1/runs/{id}`` (two thread-pool hops) without the
  store.

Two ways to listen (``--listen``):

* ``uvicorn``: a socket bound as uvicorn binds its own (``getaddrinfo``: protocol
  ``IPPROTO_TCP``), so asyncio sets ``TCP_NODELAY`` on every connection it accepts;
* ``engine``: ``runbook_engine.server.http.HttpServer``, the class ``runbook serve`` listens
  with, unchanged: whatever its socket does to latency shows here without the engine's routes.

Run as ``python bench/api/floor.py [--listen uvicorn|engine]``; it prints
``floor at http://HOST:PORT`` on stderr once it listens on 127.0.0.1 (a free port), and stops
on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from runbook_engine.server.http import MAX_CONNECTIONS, Deadline, HttpServer

# about the size and shape of a finished one-step run as GET /api/v1/runs/{id} answers it
FIXED: dict[str, Any] = {
    "id": "0123456789ab",
    "runbook": "bench-api",
    "version": 1,
    "digest": "sha256:" + "0" * 64,
    "status": "succeeded",
    "requester": "bench@example.com",
    "params": {"n": 1},
    "owner": None,
    "created_at": "2026-12-01T12:00:00.000000Z",
    "updated_at": "2026-12-01T12:00:00.010000Z",
    "exit_code": 0,
    "blocked": None,
    "state": {
        "status": "succeeded",
        "cursor": 1,
        "steps": {
            "hello": {
                "status": "succeeded",
                "attempt": 1,
                "visits": 1,
                "outputs": {},
                "result": {"message": "run 1", "level": "info"},
                "result_seq": 5,
                "error": None,
                "continued": False,
                "started_at": 1796138954.84419,
                "duration": 0.0,
            }
        },
    },
    "order": ["hello"],
    "waiting_on": None,
}


async def fixed(request: Request) -> JSONResponse:
    return JSONResponse(FIXED)


def _check(header: str | None) -> str:
    if not header or not header.startswith("Bearer "):
        raise HTTPException(401, "no token")
    return header[7:]


async def caller(request: Request) -> str:
    return await run_in_threadpool(_check, request.headers.get("authorization"))


api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@api.get("/fixed")
def fixed_sync(token: Annotated[str, Depends(caller)]) -> dict[str, Any]:
    return FIXED


app = Starlette(routes=[Route("/fixed", fixed), Mount("/api/v1", app=Deadline(api))])


def listen_engine() -> None:
    server = HttpServer("127.0.0.1", 0, app)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    server.start()
    host, port = server.address
    print(f"floor at http://{host}:{port}", file=sys.stderr, flush=True)
    stop.wait()
    server.stop()


def listen_uvicorn() -> None:
    # what uvicorn.Config(host=..., port=...) binds: getaddrinfo gives IPPROTO_TCP, which is
    # what makes asyncio set TCP_NODELAY on the accepted connections
    family, kind, proto, _, address = socket.getaddrinfo(
        "127.0.0.1", 0, socket.AF_INET, socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    # otherwise the settings of HttpServer, so only the socket and the application differ
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=15,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    print(f"floor at http://{host}:{port}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description="a fixed JSON under uvicorn")
    parser.add_argument("--listen", choices=["uvicorn", "engine"], default="uvicorn")
    if parser.parse_args().listen == "engine":
        listen_engine()
    else:
        listen_uvicorn()


if __name__ == "__main__":
    main()
