"""``framewarden serve``: the API, the channel workers and the store in one process."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
from collections.abc import Iterator
from typing import Any

import typer
from rich.markup import escape

from framewarden.cli._common import err
from framewarden.config import get_settings

log = logging.getLogger(__name__)


def serve(
    host: str = typer.Option(None, "--host", help="Listen address (default: settings.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Listen port (default: settings.port, 8080)."),
    demo: bool = typer.Option(False, "--demo", help="Start with a demo channel fed from a bundled clip."),
    log_level: str = typer.Option(None, "--log-level", help="debug | info | warning | error"),
    engine: str = typer.Option(
        None, "--engine", help="local (default: channels in this process) | ray (actors on a cluster)."
    ),
    address: str = typer.Option(
        None, "--address", help="Ray cluster for --engine ray: auto, host:port or ray://host:port."
    ),
) -> None:
    """Serve the API (OpenAPI at /docs) and moderate the configured live channels.

    SIGTERM / Ctrl-C drain the workers and flush results before exiting.
    """
    import uvicorn

    from framewarden.api.app import create_app
    from framewarden.api.runtime import Runtime

    settings = get_settings()
    if engine is not None or address is not None:
        if engine not in (None, "local", "ray"):
            err.print(f"[red]error:[/] --engine must be local or ray, not {engine!r}")
            raise typer.Exit(2)
        update = {"engine": engine or settings.engine, "ray_address": address or settings.ray_address}
        settings = settings.model_copy(update=update)
    level = (log_level or settings.log_level).upper()
    logging.getLogger().setLevel(level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    # The bound address feeds the network policy: controllers may not call this API.
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": settings.port if port is None else port}
    )
    runtime = Runtime(settings, demo=demo)
    runtime.start()
    app = create_app(runtime)
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    url = f"http://{bind_host}:{bind_port}"
    # soft_wrap: `make run` logs this to a file or pipe, where Rich would wrap at 80
    # columns and split the command a user pastes.
    say = functools.partial(err.print, soft_wrap=True, highlight=False)
    if settings.auth_enabled and runtime.count_keys() == 0:
        if demo:
            key = runtime.create_key("demo-admin", "admin")
            say(f"[green]demo:[/] created an admin API key (shown once): [bold]{escape(key)}[/]")
            say(f"  try: curl -H 'Authorization: Bearer {escape(key)}' {escape(url)}/v1/alerts")
        else:
            say(
                "[yellow]no API key exists yet:[/] create one with "
                "[bold]framewarden keys create --role admin[/] (same data directory)"
            )
    elif settings.auth_enabled and demo:
        say(
            "[green]demo:[/] API keys already exist in this data directory (a key is shown only "
            "when it is created): make a new one with [bold]framewarden keys create --role admin "
            "--name me[/], or list them with [bold]framewarden keys list[/]"
        )
    say(f"framewarden serving on {escape(url)} (docs at /docs), data in {escape(str(settings.data_dir))}")
    say(f"dashboard: {escape(url)}/ (sign in with an API key)")
    server = _DrainingServer(
        uvicorn.Config(app, host=bind_host, port=bind_port, log_level=level.lower(), lifespan="off")
    )
    try:
        server.run()
    finally:
        err.print("shutting down: draining channel workers, flushing results")
        runtime.stop()


class _DrainingServer:
    """uvicorn's server, but SIGTERM/SIGINT only ask it to exit.

    uvicorn re-raises a captured signal once it has stopped serving, which
    kills the process before the runtime could drain its workers; here the
    signal just ends ``run()`` and the caller shuts the runtime down.
    """

    def __new__(cls, config: Any) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                def ask_exit(signum: int, _frame: object) -> None:
                    log.info("signal %s: shutting down", signal.Signals(signum).name)
                    if self.should_exit:
                        self.force_exit = True
                    self.should_exit = True

                previous = {s: signal.signal(s, ask_exit) for s in (signal.SIGINT, signal.SIGTERM)}
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

        return Server(config)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
