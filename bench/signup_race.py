"""1,000 residents press 申し込む at once for a class of 50 places: exactly 50 are accepted, the rest are told
the class is full, and how much slower the final click gets than when nobody competes.

Through gunicorn (gunicorn.conf.py, its own port, --workers 4) on its own PostgreSQL database (default
postgres://postgres@127.0.0.1:5432/bench_signup, dropped first; the demo loaded: the 定員 of its
スマートフォン教室). Every resident first fills the form and reaches the 確認画面 (bench/submission_path.py's
prepare_resident), so only the final POST is timed:

1. uncontended: 200 residents submit one after another (places to spare): p50/p95/p99;
2. the same load without a race: 1,000 at once, places to spare;
3. the race: 1,000 at once for 50 places (the procedure's capacity set to the seats taken + 50).

Checks: exactly 50 of the 1,000 redirected to the completion page, 950 shown 「定員に達したため…」, no
other answer; the seats taken equal the capacity; the submissions stored grew by exactly 50 in the race.
Prints p99 of the race / p99 uncontended (and / p99 of the same load without a race).

    make bench-signup            # = .venv/bin/python bench/signup_race.py
    .venv/bin/python bench/signup_race.py --residents 1000 --places 50
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.submission_path import free_port, pct, prepare_resident, run_load  # noqa: E402

PY = sys.executable
FULL = "定員に達したため"


def click(form_path: str, resident, outcomes: list[str]) -> None:
    """The final click on the 確認画面: 'accepted' (to the completion page), 'full' or 'other <status>'."""
    client, confirmed = resident
    status, page, headers = client.request(
        "POST", form_path + "confirm/", {**confirmed, "csrfmiddlewaretoken": client.csrf()}
    )
    if status == 302 and headers.get("Location", "").endswith("/done/"):
        outcomes.append("accepted")
    elif FULL in page:
        outcomes.append("full")
    else:
        outcomes.append(f"other {status}")
    client.conn.close()


def manage_shell(env: dict, code: str) -> str:
    return subprocess.run(
        [PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1000, help="residents racing at once")
    parser.add_argument("--places", type=int, default=50)
    parser.add_argument("--uncontended", type=int, default=200, help="residents one after another")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_signup")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret",
        "MADOGUCHI_INSECURE_DEV_KEY": "1",  # the fixed development master keyset: real AES-256-GCM
        "SUBMISSIONS_PER_CLIENT": "1000000000",  # every simulated resident comes from this one host
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "DB_CONN_MAX_AGE": "3600",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DEBUG", None)
    dbname = database_url.rsplit("/", 1)[-1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        admin.execute(f"CREATE DATABASE {dbname}")
    for command in (["migrate", "-v0"], ["createcachetable"], ["load_demo", "-v0", "--on-a-server"]):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    ample = 10 * (args.uncontended + 2 * args.residents)
    procedure_id = manage_shell(
        env,
        "from madoguchi.procedures.models import Procedure as P; p=P.objects.get(kind='signup'); "
        f"P.objects.filter(pk=p.pk).update(capacity={ample}); print(p.pk)",
    ).split()[-1]
    form_path = f"/312011/procedures/{procedure_id}/"

    def stored() -> tuple[int, int, int]:
        out = manage_shell(
            env,
            "from madoguchi.procedures.models import Procedure as P; from madoguchi.submissions.models import "
            f"Submission as S; p=P.objects.get(pk={procedure_id}); "
            "print(S.objects.filter(procedure=p).count(), p.seats_taken, p.capacity)",
        )
        return tuple(int(x) for x in out.split()[-3:])

    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "madoguchi.wsgi", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--max-requests", "0", "--backlog", "2048"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        def final_clicks(count: int, concurrency: int) -> tuple[list[float], list[str]]:
            residents = [prepare_resident(port, form_path) for _ in range(count)]
            outcomes: list[str] = []
            jobs = [lambda r=r: click(form_path, r, outcomes) for r in residents]
            _elapsed, latencies = run_load(jobs, concurrency)
            return latencies, outcomes

        final_clicks(20, 4)  # warm up: imports, templates, prepared plans
        alone, alone_outcomes = final_clicks(args.uncontended, 1)
        assert set(alone_outcomes) == {"accepted"}, set(alone_outcomes)
        crowd, crowd_outcomes = final_clicks(args.residents, args.residents)
        assert set(crowd_outcomes) == {"accepted"}, set(crowd_outcomes)
        before, seats, _ = stored()
        manage_shell(
            env,
            f"from madoguchi.procedures.models import Procedure as P; "
            f"P.objects.filter(pk={procedure_id}).update(capacity={seats + args.places})",
        )
        # Everyone reaches the 確認画面 while places remain; then all click at once.
        residents = [prepare_resident(port, form_path) for _ in range(args.residents)]
        outcomes: list[str] = []
        jobs = [lambda r=r: click(form_path, r, outcomes) for r in residents]
        race_time, race = run_load(jobs, args.residents)
        after, seats_after, capacity = stored()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {dbname}")

    counted = {kind: outcomes.count(kind) for kind in sorted(set(outcomes))}
    print(
        f"\n{args.residents:,} residents at once for {args.places} places (gunicorn --workers {args.workers}, "
        f"PostgreSQL): {counted}; stored {after - before} more; seats taken {seats_after} of {capacity}"
    )
    exact = (
        counted.get("accepted") == args.places and after - before == args.places and seats_after == capacity
    )
    print(f"exactly {args.places} accepted, the rest told the class is full: {'yes' if exact else 'NO'}")
    print(f"{'final click':40}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>10}")
    for label, latencies in (
        (f"uncontended ({args.uncontended}, one at a time)", alone),
        (f"{args.residents:,} at once, places to spare", crowd),
        (f"{args.residents:,} at once for {args.places} places", race),
    ):
        print(f"{label:40}{pct(latencies, 50):9.1f}{pct(latencies, 95):9.1f}{pct(latencies, 99):10.1f}")
    print(
        f"p99 of the race / uncontended p99: {pct(race, 99) / pct(alone, 99):.1f}; "
        f"/ p99 of the same load without a race: {pct(race, 99) / pct(crowd, 99):.2f}; "
        f"the race took {race_time:.1f} s"
    )
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
