"""gunicorn for the web process: what production runs (Dockerfile, docker-compose.yml) and what
benchmarks/bench_submit.py measures. The commands name the app, the address and the worker count (one or two
per core, sized per host); everything else is here.

Threads: each worker serves GUNICORN_THREADS requests at once, so a slow client (a phone uploading on a poor
network, with a proxy that does not buffer bodies) or a wait on PostgreSQL does not hold the whole worker, and
client connections are kept alive. Python still runs one thread at a time per worker: where the cores are
already busy the threads add no throughput (docs/performance.md, Submit). Each thread holds at most one
connection from the worker's psycopg pool (settings.DATABASES, DATABASE_POOL_MAX), kept between requests.
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A report or export request may take a while; past this a stuck worker is restarted.
timeout = 60
# The access log keeps patient links' paths but not their tokens (plumbing/redaction.py).
logger_class = "plumbing.redaction.AccessLogger"


def post_worker_init(worker):
    """After the app is loaded in a worker, before it serves: see plumbing/runtime.py."""
    from plumbing.runtime import load_and_freeze

    load_and_freeze()
