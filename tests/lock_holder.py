"""Another process that holds the run lock, as a concurrently started crawl would: ``python -m tests.lock_holder
RUN_ID [--name NAME] [--database-url URL] [--start-run]`` takes the lock of the configured archive (``XXGK_*``,
Redis when ``XXGK_REDIS_URL`` is set), with ``--start-run`` records its run as running (as a crawl does), prints
``held HOLDER`` (or ``busy REASON``), keeps the heartbeat going until its stdin closes, then releases the lock.
Kill it to leave a lock behind whose holder is dead."""
from __future__ import annotations

import argparse
import sys

from storage.catalog import Catalog, queries
from storage.config import Config
from storage.runlock import LOCK_NAME, LockHeld, open_run_lock


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_id")
    parser.add_argument("--name", default=LOCK_NAME)
    parser.add_argument("--database-url")
    parser.add_argument("--start-run", action="store_true")
    args = parser.parse_args()
    config = Config.from_env()
    with Catalog.open(args.database_url or config.database_url) as catalog:
        lock = open_run_lock(config, catalog, name=args.name)
        try:
            heartbeat = lock.hold(args.run_id)
        except LockHeld as exc:
            print(f"busy {exc}", flush=True)
            return 1
        with heartbeat:
            if args.start_run:
                with catalog.session() as session:
                    queries.start_run(session, args.run_id)
            print(f"held {lock.holder}", flush=True)
            sys.stdin.read()
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
