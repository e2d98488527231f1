"""``xxgk serve``: the web UI over the catalog and the archive."""
from __future__ import annotations

import argparse

from cli.common import CommandError, load_config


def add_parsers(sub) -> None:
    help_text = "start the web UI: dashboard, agencies, reports, captures, search, runs and their JSON API"
    p = sub.add_parser("serve", help=help_text, description=help_text + " (read-only; no login: keep it on loopback "
                                                                        "or behind an authenticating proxy)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name the UI also answers to, e.g. the name a reverse proxy forwards (repeatable; "
                        "'*': any). By default only loopback names and the --host address (with --host 0.0.0.0: "
                        "this machine's names and addresses): other Host headers get 400, against DNS rebinding")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from storage.catalog import CatalogError, CatalogMissing
    from storage.objects import ObjectStoreError
    from web.app import create_app
    from web.hosts import serve_hosts

    config = load_config(args)
    if not 0 <= args.port < 65536:
        raise CommandError(f"--port {args.port}: use a port between 1 and 65535 (0: any free port)")
    try:
        app = create_app(config, allowed_hosts=serve_hosts(args.host, args.allowed_host))
    except CatalogMissing as exc:
        raise CommandError(f"{exc} (run `xxgk crawl` or `xxgk demo` first)") from exc
    except (CatalogError, ObjectStoreError) as exc:
        raise CommandError(str(exc)) from exc
    try:
        # bound here, not by uvicorn, so that a busy port is one clear line instead of a server log
        family = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
        # listening before the address is printed: a browser that connects at once waits in the backlog until
        # uvicorn accepts, instead of being refused
        listener.listen(2048)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"xxgk-watch 网页界面：http://{shown}:{listener.getsockname()[1]}/ （按 Ctrl+C 停止）", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
    return 0
