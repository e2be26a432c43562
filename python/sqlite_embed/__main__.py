"""python3 -m sqlite_embed: the package's command line.

    python3 -m sqlite_embed serve [--db PATH] [--host 127.0.0.1] [--port 8000]
                                  [--model PATH] [--quiet]
    python3 -m sqlite_embed paths      # the extension and the default model

HOW IT WORKS
argparse, then sqlite_embed.server.serve().  Once the socket listens,
`serve` prints one line on stdout, "sqlite_embed: serving on
http://HOST:PORT/ ...", with the real port (--port 0 asks the system for a
free one), so a script can start it and read where it is.  A database or
model that cannot be opened is one line on stderr and exit status 2;
SIGTERM and Ctrl-C stop it with status 0.
"""
from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
from typing import List, Optional

from . import default_model_path, loadable_path


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number from 0 to 65535")
    return int(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sqlite_embed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve /embed, /search and /metrics over HTTP")
    p.add_argument("--db", metavar="PATH",
                   help="the database whose embed_index tables /search reads "
                        "(opened read-only); without it, /search finds none")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8000,
                   help="port to listen on (8000; 0 picks a free one)")
    p.add_argument("--model", metavar="PATH",
                   help="the model file to use as 'default' instead of the packaged one")
    p.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    sub.add_parser("paths", help="print the extension's and the default model's paths")
    args = parser.parse_args(argv)

    if args.command == "paths":
        print(loadable_path())
        print(default_model_path())
        return 0

    from .server import EmbedServer, serve

    def ready(server: "EmbedServer") -> None:
        host, port = server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        print(f"sqlite_embed: serving on http://{host}:{port}/ "
              f"(db {args.db or 'none'}, model {args.model or 'default'})", flush=True)

    # SIGTERM stops it as Ctrl-C does: the socket and connections closed, exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        serve(db=args.db, host=args.host, port=args.port, model=args.model,
              quiet=args.quiet, ready=ready)
    except (OSError, sqlite3.Error) as e:
        print(f"python3 -m sqlite_embed serve: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
