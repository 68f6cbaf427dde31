"""Throughput and latency of the final submit (確認画面 → 受付) next to a bare one-INSERT view.

Both run in the same gunicorn, same settings, same PostgreSQL, same run, same client. The submit path is
everything a resident's final click costs: CSRF, the signed answers from the 確認画面, receipt number,
the submission, its history, the seat, the day's count and 処理待ち count, the outbox e-mail row and its
task row, one commit, the redirect with the completion cookie.

    make bench                      # or: .venv/bin/python bench/submission_path.py --requests 400 --rounds 7
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_bench (default)

Baseline and submit alternate over several rounds (the machine is shared: throughput varies from minute
to minute); the median round's submissions/s and p50/p95/p99 are printed with the ratio (goal ≥ 0.6), as
is the CPU each request costs the app server and PostgreSQL; then a resident's whole path (four requests
per submission), for information.
"""

import argparse
import html
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FORM = {
    "name__family": "髙橋",
    "name__given": "﨑子",
    "furigana": "たかはし さきこ",
    "phone": "0857-20-3111",
    "email": "sakiko@example.jp",
    "session": "12月10日（木）午前",
    "own_phone": "持っている",
    "agree": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One resident: a keep-alive connection with its own cookies."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = "http://127.0.0.1/"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection: open a new one, as a browser does.
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def csrf(self) -> str:
        return self.cookies["csrftoken"]


def prepare_resident(port: int, form_path: str) -> tuple[Client, dict]:
    """Fill the form and reach the 確認画面: what remains is the final click, with what the page holds."""
    client = Client(port)
    status, page, _ = client.request("GET", form_path)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    status, _, _ = client.request(
        "POST", form_path, {**FORM, "version": version, "csrfmiddlewaretoken": client.csrf()}
    )
    assert status == 302, status
    status, page, _ = client.request("GET", form_path + "confirm/")
    hidden = dict(re.findall(r'<input type="hidden" name="(token|confirmed)" value="([^"]*)"', page))
    return client, {name: html.unescape(value) for name, value in hidden.items()}


def cpu_snapshot(server_pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each of the app server's processes and PostgreSQL's (Linux /proc):
    what a request costs the machine, whatever its neighbours take, unlike req/s on a shared machine."""
    tick = os.sysconf("SC_CLK_TCK")
    seen = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(entry) == server_pid or int(fields[1]) == server_pid:
            seen[int(entry)] = ("server", used)
        elif name == "postgres":
            seen[int(entry)] = ("database", used)
    return seen


def cpu_used(before: dict, after: dict) -> tuple[float, float]:
    """(app server, database) CPU seconds between two snapshots; a process that ended in between is
    left out, one that started counts from its start."""
    used = {"server": 0.0, "database": 0.0}
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return used["server"], used["database"]


def run_load(jobs: list, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(jobs)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            start = time.perf_counter()
            job()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began, latencies


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="baseline and submit alternate this many times; the median counts",
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/madoguchi_bench")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret",
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "ROOT_URLCONF": "bench.baseline_urls",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    dbname = database_url.rsplit("/", 1)[-1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(
        [PY, "-c", f"import psycopg; c=psycopg.connect('{admin_url}', autocommit=True); "
         f"c.execute('DROP DATABASE IF EXISTS {dbname}'); c.execute('CREATE DATABASE {dbname}')"],
        check=True,
    )  # fmt: skip
    setup = (
        ["migrate", "-v0"],
        ["createcachetable"],
        ["load_demo", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
    )
    for command in setup:
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)
    procedure_id = subprocess.run(
        [PY, "manage.py", "shell", "-c",
         "from madoguchi.procedures.models import Procedure as P; p=P.objects.get(kind='signup'); "
         f"P.objects.filter(pk=p.pk).update(capacity={args.requests * (args.rounds + 2)}); print(p.pk)"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip

    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "madoguchi.wsgi", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "-", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        form_path = f"/312011/procedures/{procedure_id}/"

        # Baseline: a POST through the same middleware (session, CSRF) to a view that does one INSERT.
        def baseline_client() -> Client:
            c = Client(port)
            c.request("GET", "/bench/insert/")
            return c

        def baseline_job(c=None):
            status, _, _ = c.request("POST", "/bench/insert/", {"csrfmiddlewaretoken": c.csrf()})
            assert status == 200, status

        def submit_job(resident=None):
            client, confirmed = resident
            status, _, headers = client.request(
                "POST", form_path + "confirm/", {**confirmed, "csrfmiddlewaretoken": client.csrf()}
            )
            assert status == 302 and headers["Location"].endswith("/done/"), status

        warm = args.requests // 10
        run_load(
            [lambda c=c: baseline_job(c) for c in (baseline_client() for _ in range(warm))], args.concurrency
        )
        run_load([lambda r=r: submit_job(r) for r in (prepare_resident(port, form_path) for _ in range(warm))],
                 args.concurrency)  # fmt: skip
        # The machine's other work comes and goes: the two alternate, each round on fresh clients, and the
        # round with the median ratio is reported (all rounds are printed too).
        rounds = []
        base_cpu: list[tuple[float, float]] = []
        sub_cpu: list[tuple[float, float]] = []

        def cpu_per_request(before: dict, requests: int) -> tuple[float, float]:
            server_seconds, database_seconds = cpu_used(before, cpu_snapshot(server.pid))
            return server_seconds / requests, database_seconds / requests

        for number in range(args.rounds):
            clients = [baseline_client() for _ in range(args.requests)]
            residents = [prepare_resident(port, form_path) for _ in range(args.requests)]
            base = sub = None
            for which in ("base", "sub") if number % 2 == 0 else ("sub", "base"):
                cpu_before = cpu_snapshot(server.pid)
                if which == "base":
                    base = run_load([lambda c=c: baseline_job(c) for c in clients], args.concurrency)
                    base_cpu.append(cpu_per_request(cpu_before, len(clients)))
                else:
                    sub = run_load([lambda r=r: submit_job(r) for r in residents], args.concurrency)
                    sub_cpu.append(cpu_per_request(cpu_before, len(residents)))
            rounds.append(((len(sub[1]) / sub[0]) / (len(base[1]) / base[0]), base, sub))
            print(
                f"round {number + 1}: ratio {rounds[-1][0]:.2f}; CPU ms per request (app server + database): "
                f"baseline {base_cpu[-1][0] * 1000:.2f} + {base_cpu[-1][1] * 1000:.2f}, "
                f"submit {sub_cpu[-1][0] * 1000:.2f} + {sub_cpu[-1][1] * 1000:.2f}",
                flush=True,
            )
        _, (base_time, base_lat), (sub_time, sub_lat) = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]

        def whole_path_job():
            # What one resident costs end to end: the form, the answers, the 確認画面 and the submit.
            submit_job(prepare_resident(port, form_path))

        whole = max(args.requests // 4, 10)
        whole_time, whole_lat = run_load([whole_path_job] * whole, args.concurrency)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    count = subprocess.run(
        [PY, "manage.py", "shell", "-c",
         "from madoguchi.submissions.models import Submission; print(Submission.objects.count())"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    base_rps = len(base_lat) / base_time
    sub_rps = len(sub_lat) / sub_time
    print(
        f"gunicorn.conf.py with --workers {args.workers}, {args.concurrency} concurrent clients, PostgreSQL, "
        f"{len(sub_lat)} requests each, the median of {args.rounds} rounds "
        f"({', '.join(f'{r[0]:.2f}' for r in rounds)}), after {warm} warm-up requests"
    )
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for label, rps, lat in (
        ("baseline one INSERT", base_rps, base_lat),
        ("submit (full path)", sub_rps, sub_lat),
    ):
        print(f"{label:24}{rps:9.1f}{pct(lat, 50):9.1f}{pct(lat, 95):9.1f}{pct(lat, 99):9.1f}")
    print(f"ratio submit/baseline: {sub_rps / base_rps:.2f} (goal >= 0.6)")
    base_ms = statistics.median(sum(c) for c in base_cpu) * 1000
    sub_ms = statistics.median(sum(c) for c in sub_cpu) * 1000
    print(
        f"CPU per request, server and database, median of the rounds: baseline {base_ms:.2f} ms, "
        f"submit {sub_ms:.2f} ms, ratio {base_ms / sub_ms:.2f}"
    )
    print(
        f"whole resident path (GET form, POST answers, GET 確認画面, POST submit): {len(whole_lat) / whole_time:.1f} "
        f"submissions/s, p50 {pct(whole_lat, 50):.1f} ms, p95 {pct(whole_lat, 95):.1f} ms, p99 {pct(whole_lat, 99):.1f} ms"
    )
    print(f"submissions stored: {count} (expected {warm + args.rounds * args.requests + whole})")


if __name__ == "__main__":
    main()
