"""bench seed: `manage.py seed_demo --practices 20 --clinicians 10 --visits 100000` on PostgreSQL (target <= 90 s).

Ours: the command itself, in a subprocess, from start to exit (Django start-up included).
Baseline: the same rows written raw. After the seed, each table's rows are read out with COPY TO, the tables
emptied, and the rows COPYed back in one transaction over one connection: the database's own cost of writing
exactly this data (indexes, constraint checks, WAL), with no Python in the way.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

TARGET_S = 90
# Parents before children, so the COPY order satisfies the foreign keys however they are checked.
TABLES = [
    "surveys_patient",
    "surveys_dyad",
    "surveys_visit",
    "surveys_invitation",
    "surveys_response",
    "surveys_answer",
    "surveys_domainscore",
    "surveys_casemix",
]


def main():
    args = bench.arguments("seed", __doc__)
    size = (
        {"practices": 2, "clinicians": 3, "visits": 2000}
        if args.small
        else {"practices": 20, "clinicians": 10, "visits": 100_000}
    )
    with bench.bench_database("seed", args.database_url, args.keep) as url:
        from django.db import connection

        env = {**os.environ, "DATABASE_URL": url}
        command = [
            sys.executable, "manage.py", "seed_demo",
            "--practices", str(size["practices"]), "--clinicians", str(size["clinicians"]),
            "--visits", str(size["visits"]), "--seed", "7",
        ]
        bench.log("seed:", " ".join(command[1:]))
        load_before = bench.machine()
        start = time.perf_counter()
        subprocess.run(command, cwd=bench.ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        ours = time.perf_counter() - start
        bench.log(f"seed: seed_demo took {ours:.1f} s")

        connection.close()
        raw_conn = connection.cursor().connection  # a fresh psycopg connection
        counts, dumps = {}, {}
        with raw_conn.cursor() as cursor:
            for table in TABLES:
                buffer = io.BytesIO()
                with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                    for data in copy:
                        buffer.write(data)
                dumps[table] = buffer.getvalue()
                cursor.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cursor.fetchone()[0]
            # CASCADE: tables of other apps point at these (messages at invitations); a fresh seed leaves them empty.
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        raw_conn.commit()
        bench.log("seed: raw COPY of the same rows")
        start = time.perf_counter()
        with raw_conn.cursor() as cursor:
            for table in TABLES:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(dumps[table])
        raw_conn.commit()
        baseline = time.perf_counter() - start
        bench.log(f"seed: raw COPY took {baseline:.1f} s")

    bench.emit(
        {
            "bench": "seed",
            "small": args.small,
            "data": {**size, "rows": {table.removeprefix("surveys_"): n for table, n in counts.items()}},
            "ours_s": round(ours, 2),
            "baseline_s": round(baseline, 2),
            "baseline": "the same rows COPYed back into the same schema in one transaction",
            "ratio": bench.ratio(ours, baseline),
            "target": {"ours_s_max": TARGET_S},
            "met": ours <= TARGET_S,
            "machine_before": load_before,
        }
    )


if __name__ == "__main__":
    main()
