"""``repair serve``: the HTTP API (``repair.server``)."""
from __future__ import annotations

import os
from typing import Optional

import typer

from repair import config
from repair.cli.app import app, run_guarded


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; any other than this "
                                                                  "machine needs --token."),
          port: int = typer.Option(8765, "--port", min=1, max=65535),
          token: Optional[str] = typer.Option(None, "--token", envvar="REPAIR_TOKEN", show_default=False,
                                              help="Every request must carry Authorization: Bearer TOKEN."),
          cors: Optional[list[str]] = typer.Option(None, "--cors", help="Allow browser pages from this origin "
                                                                        "(repeat for more); none by default."),
          max_bytes: int = typer.Option(config.MAX_BYTES, "--max-bytes", help="Refuse request bodies larger "
                                                                              "than this many bytes."),
          max_queue: int = typer.Option(64, "--max-queue", min=1, help="Requests that may wait for the models; "
                                                                      "more are answered 503 with Retry-After.")) -> None:
    """Serve the review page (/) and the API for editorial software: POST /v1/check, /v1/fix; GET /healthz,
    /v1/version, /docs."""
    from repair.server import serve as run

    run_guarded(lambda: run(host, port, token=token or os.environ.get("REPAIR_TOKEN"), cors=cors, max_bytes=max_bytes,
                            max_queue=max_queue))
