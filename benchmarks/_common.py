"""What every benchmark shares: arguments, its own throwaway PostgreSQL database, Django, and the JSON it prints.

Each script creates `healing_bench_<name>` on the server of --database-url (or DATABASE_URL, or the local
default below), migrates it, runs, prints ONE JSON object on stdout and drops the database again, so a run
never touches anyone else's data. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def arguments(name: str, description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--small", action="store_true", help="Tiny sizes, for a CI smoke run.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="Any PostgreSQL URL on the server to use; the benchmark makes its own database there "
        f"(healing_bench_{name}). Default: DATABASE_URL, else {DEFAULT_SERVER}.",
    )
    parser.add_argument("--keep", action="store_true", help="Leave the benchmark database in place afterwards.")
    if extra:
        extra(parser)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("benchmarks run on PostgreSQL: give a postgres:// URL with --database-url or DATABASE_URL")
    return args


def url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def _admin(server_url: str):
    import psycopg

    return psycopg.connect(url_for(server_url, "postgres"), autocommit=True)


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


@contextmanager
def bench_database(name: str, server_url: str, keep: bool = False):
    """A fresh, migrated database for this benchmark; Django is set up on it. Yields its URL."""
    # BENCH_DB_SUFFIX keeps concurrent runs apart (the smoke test sets it per process).
    database = f"healing_bench_{name}{os.environ.get('BENCH_DB_SUFFIX', '')}"
    with _admin(server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    url = url_for(server_url, database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healing.settings")
    os.environ.setdefault("AXES_VERBOSE", "0")
    # A benchmark database holds demo data only, and nothing in it is worth a replica.
    os.environ.pop("DATABASE_REPLICA_URL", None)
    sys.path.insert(0, str(ROOT))
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("load_instruments", verbosity=0, stdout=open(os.devnull, "w"))
        yield url
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not have started
            pass
        if not keep:
            with _admin(server_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def vacuum_analyze() -> None:
    """What autovacuum does for a live database: statistics for the planner, visibility for index-only scans."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def machine() -> dict:
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "load_1m": round(load[0], 2),
        "load_5m": round(load[1], 2),
        "python": platform.python_version(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1] if q < 100 else ordered[-1]


def timed(fn, repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleaved(fns: dict, repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Each function timed `repeat` times, taking turns: on a shared machine whose speed drifts over seconds, ours
    and its baseline then see the same machine, and their ratio means what it says."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def emit(result: dict) -> None:
    """The one JSON object on stdout."""
    result.setdefault("machine", machine())
    print(json.dumps(result, default=str, sort_keys=False), flush=True)


def ratio(ours: float | None, baseline: float | None) -> float | None:
    if not ours or not baseline:
        return None
    return round(ours / baseline, 3)
