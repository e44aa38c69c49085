"""``repair serve``: the HTTP API for editorial software (FastAPI on uvicorn; OpenAPI schema at ``/docs``).

Endpoints, all JSON, with the shapes and offsets of ``--format json``:

* ``POST /v1/check`` ``{"text", "threshold"?}`` -> a report;
* ``POST /v1/fix`` ``{"text", "threshold"?, "min_confidence"?}`` -> a result, or ``{"texts": [...]}``
  -> ``{"results": [...]}`` (batched, as ``Repairer.fix_many``);
* ``GET /healthz`` (200 once the models are loaded, 503 before) and ``GET /v1/version`` (the signature);
* ``GET /``: the review page (``repair/web/``: plain HTML, CSS and JavaScript), where an editor accepts,
  rejects or changes each restoration and exports the reviewed text and a report of the decisions.

The models load once, in the background, at start. Requests queue onto them: one worker thread runs
every request's model work in turn (the CPU is the limit, so throughput does not grow with more at
once, and memory stays that of one request: torch on many threads grows one malloc arena per thread);
more than ``max_queue`` waiting get 503 with ``Retry-After``. A request that cannot be served gets ``{"error": "..."}`` with its status: 400 for
bad JSON or fields, 401 without the token, 413 over the size limit, 422 for what is not text, 503
while loading. Bodies larger than ``max_bytes`` are refused while they stream in, whatever their
``Content-Length`` says. No CORS unless an origin is given. With a token, the page itself (which holds
no data) is served without it; the page sends the token the editor types with every request.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from repair import config
from repair._version import __version__
from repair.errors import InputError, TooLarge

LOCALHOST = ("127.0.0.1", "localhost", "::1")
# the review page's files (repair/web/) and their types; nothing else is served from there
PAGE = {"index.html": "text/html; charset=utf-8", "review.js": "text/javascript; charset=utf-8",
        "review.css": "text/css; charset=utf-8"}
PUBLIC = ("/", "/healthz", *(f"/static/{name}" for name in PAGE))  # served without the token
# the page runs its own script and styles only, and talks to this server only
PAGE_HEADERS = {"content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                "connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'",
                "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-cache"}


class CheckRequest(BaseModel, extra="forbid"):
    text: str
    threshold: float | None = Field(None, ge=0.0, le=1.0)


class FixRequest(BaseModel, extra="forbid"):
    text: str | None = None
    texts: list[str] | None = Field(None, max_length=1000)
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)


class _BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before the app sees it. The body is
    read here (at most ``limit`` bytes are held), so a missing or understated ``Content-Length`` (a
    chunked upload) cannot get past it."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _send_json(send, 413, f"request body over the limit of {self.limit:,} bytes")
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await _send_json(send, 413, f"request body over the limit of {self.limit:,} bytes")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _send_json(send, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(make_repairer: Callable | None = None, *, token: str | None = None, cors: list[str] | None = None,
               max_bytes: int = config.MAX_BYTES, background: bool = True, max_queue: int = 64):
    """The ASGI app. ``make_repairer()`` builds the models (default: the default ``Repairer`` with its
    restorer loaded); ``background``: load them in a thread, answering 503 meanwhile; ``max_queue``:
    requests that may wait for the models before more are turned away (503)."""
    state = {"repairer": None, "error": None, "waiting": 0}
    ready = threading.Event()
    worker = ThreadPoolExecutor(1, thread_name_prefix="repair-models")  # every model call, in turn

    def load():
        try:
            if make_repairer is None:
                from repair.pipeline import Repairer

                repairer = Repairer()
                repairer.restorer  # noqa: B018 - loaded now, not on the first fix
            else:
                repairer = make_repairer()
            state["repairer"] = repairer
        except Exception as e:  # noqa: BLE001 - reported by /healthz and every request, one line
            state["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
        finally:
            ready.set()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if background:
            worker.submit(load)  # the first job of the model thread: requests queue behind it
        else:
            load()
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="repair", version=__version__, summary="Find and undo spun content.", lifespan=lifespan)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token and request.url.path not in PUBLIC:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return error(401, "missing or wrong token (send Authorization: Bearer TOKEN)")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {}
        if first.get("type") == "json_invalid":
            return error(400, f"malformed JSON ({first.get('msg', '')})")
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        if first.get("type") == "string_type" and where.split(".")[0] in ("text", "texts"):
            return error(422, f"{where}: not text ({first.get('msg', '')})")
        return error(400, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(InputError)
    async def refused(request: Request, exc: InputError):
        return error(413 if isinstance(exc, TooLarge) else 422, str(exc))

    def unavailable() -> str | None:
        """Why requests cannot be served yet (None: they can)."""
        if not ready.is_set():
            return "the models are still loading; retry shortly (GET /healthz says when)"
        return f"the models could not be loaded: {state['error']}" if state["error"] else None

    def repairer():
        why = unavailable()
        if why:
            raise _Unavailable(why)
        return state["repairer"]

    @app.exception_handler(_Unavailable)
    async def not_yet(request: Request, exc: _Unavailable):
        return error(503, str(exc))

    @app.exception_handler(_Busy)
    async def busy(request: Request, exc: _Busy):
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"retry-after": "5"})

    async def on_models(work: Callable):
        """``work(repairer)`` on the model thread, after the requests queued before it."""
        r = repairer()
        if state["waiting"] >= max_queue:
            raise _Busy(f"busy: {state['waiting']} requests are waiting for the models; retry shortly")
        state["waiting"] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(worker, work, r)
        finally:
            state["waiting"] -= 1

    def asset(name: str) -> Response:
        from importlib.resources import files

        return Response((files("repair") / "web" / name).read_bytes(), media_type=PAGE[name], headers=PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    def page():
        return asset("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        return asset(name) if name in PAGE else error(404, f"no such file: {name}")

    @app.get("/healthz")
    def healthz():
        why = unavailable()
        return error(503, why) if why else {"status": "ready"}

    @app.get("/v1/version")
    def version():
        r = repairer()
        return {"version": __version__, "signature": str(r.signature(r.threshold, r.edit_confidence, r.restore_floor)),
                "check_signature": str(r.signature(r.threshold))}

    @app.post("/v1/check")
    async def check(req: CheckRequest):
        return await on_models(lambda r: r.check(req.text, threshold=req.threshold).to_dict())

    @app.post("/v1/fix")
    async def fix(req: FixRequest):
        if (req.text is None) == (req.texts is None):
            return error(400, "give one of text or texts")
        if req.text is not None:
            return await on_models(lambda r: r.fix(req.text, threshold=req.threshold,
                                                    min_confidence=req.min_confidence).to_dict())
        results = await on_models(lambda r: r.fix_many(req.texts, threshold=req.threshold,
                                                       min_confidence=req.min_confidence))
        return {"results": [res.to_dict() for res in results]}

    if cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cors, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    app.add_middleware(_BodyLimit, limit=max_bytes)
    app.state.ready = ready
    return app


class _Unavailable(Exception):
    """The models are loading, or could not be loaded: 503."""


class _Busy(Exception):
    """Too many requests are waiting for the models: 503 with Retry-After."""


def serve(host: str = "127.0.0.1", port: int = 8765, *, token: str | None = None, cors: list[str] | None = None,
          max_bytes: int = config.MAX_BYTES, max_queue: int = 64) -> None:
    """Run the API with uvicorn (``repair serve``). A host other than this machine needs a token."""
    import uvicorn

    if host not in LOCALHOST and not token:
        raise InputError(f"--host {host} serves other machines: give --token (or REPAIR_TOKEN) so that every "
                         f"request must carry it")
    uvicorn.run(create_app(token=token, cors=cors, max_bytes=max_bytes, max_queue=max_queue), host=host, port=port,
                log_level="info")
