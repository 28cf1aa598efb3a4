"""gunicorn for the web process: what production runs (Dockerfile, docker-compose.yml) and what
benchmarks/bench_submit.py measures. The commands name the app, the address and the worker count (one or two
per core, sized per host); everything else is here.

Threads: a request spends about half its time waiting on PostgreSQL (the claim, the inserts, the commit), so
each worker runs GUNICORN_THREADS requests at once and its waits overlap; Python still runs one thread at a
time per worker. Each thread holds at most one connection from the worker's psycopg pool (settings.DATABASES,
DATABASE_POOL_MAX), kept open between requests. gthread also keeps client connections alive between requests.
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A report or export request may take a while; past this a stuck worker is restarted.
timeout = 60
