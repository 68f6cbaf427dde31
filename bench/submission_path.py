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

`--mode path` (make bench-path) measures the resident's budget instead: the whole path through a 3-field
form (氏名, メールアドレス, one choice), made through the builder's services: GET the form, POST the
answers, GET the 確認画面, POST the submit, GET the completion page. It reports the CPU each completed
submission costs (all five requests), app server and PostgreSQL separately and together, the median of
several rounds (goal: 18 ms together). `--mode all` (make bench) runs both; without --mode, the submit.
"""

import argparse
import html
import http.client
import json
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


def cpu_snapshot(server_pid: int, dbname: str | None = None) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each of the app server's processes and PostgreSQL's (Linux /proc):
    what a request costs the machine, whatever its neighbours take, unlike req/s on a shared machine.

    With `dbname`, PostgreSQL backends serving other databases (other work on the same server, such as a
    test run) are left out; the shared processes (WAL writer, checkpointer…) still count."""
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
            if dbname and not _serves(int(entry), dbname):
                continue
            seen[int(entry)] = ("database", used)
    return seen


def _serves(pid: int, dbname: str) -> bool:
    """A PostgreSQL process that counts: a backend of `dbname`, or a process shared by every database.
    A backend's title is "postgres: 15/main: <user> <database> <address> <state>"."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return False
    if title[2:4] == ["autovacuum", "worker"]:  # "postgres: 15/main: autovacuum worker <database>"
        return title[-1] == dbname
    backend = len(title) >= 5 and ("(" in title[4] or title[4] == "[local]")
    return not backend or title[3] == dbname


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


# The 3-field form of the resident's budget (--mode path), made as an editor would make it.
THREE_FIELDS = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {
            "key": "q1",
            "type": "single_choice",
            "label": "参加する回",
            "options": ["午前", "午後"],
            "required": True,
        },
    ],
    "email_field": "email",
}
THREE_ANSWERS = {"name__family": "髙橋", "name__given": "﨑子", "email": "sakiko@example.jp", "q1": "午後"}
MAKE_THREE_FIELD_FORM = """
import json
from madoguchi.organizations.models import Organization
from madoguchi.procedures import services
organization = Organization.objects.get(code="312011")
procedure = services.create_procedure(organization=organization, actor=None, title="3項目の申請", kind="application")
services.save_draft(procedure=procedure, schema=json.loads({schema!r}), actor=None, revision=None, change="bench")
services.publish(procedure=procedure, actor=None)
print(procedure.pk)
"""


def resident_path(port: int, form_path: str) -> None:
    """One resident's whole path through the 3-field form: five requests, one submission."""
    client = Client(port)
    status, page, _ = client.request("GET", form_path)
    assert status == 200, status
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    status, _, _ = client.request(
        "POST", form_path, {**THREE_ANSWERS, "version": version, "csrfmiddlewaretoken": client.csrf()}
    )
    assert status == 302, status
    status, page, _ = client.request("GET", form_path + "confirm/")
    assert status == 200, status
    hidden = dict(re.findall(r'<input type="hidden" name="(token|confirmed)" value="([^"]*)"', page))
    confirmed = {name: html.unescape(value) for name, value in hidden.items()}
    status, _, headers = client.request(
        "POST", form_path + "confirm/", {**confirmed, "csrfmiddlewaretoken": client.csrf()}
    )
    assert status == 302 and headers["Location"].endswith("/done/"), status
    status, page, _ = client.request("GET", form_path + "done/")
    assert status == 200 and 'data-testid="receipt-number"' in page, status
    client.conn.close()


def measure_path(args, port: int, server_pid: int, dbname: str, form_path: str) -> int:
    """Rounds of residents going the whole path; CPU per completed submission. Returns how many were sent.

    Each round also sends as many one-INSERT requests (the submit bench's baseline) as there are
    residents: how much CPU the same request costs moves with the machine's other work (by a quarter and
    more from one run to the next), and that request shows by how much."""
    warm = max(args.residents // 5, 10)
    run_load([lambda: resident_path(port, form_path)] * warm, args.concurrency)
    sent = warm
    rows = []
    for number in range(args.rounds):
        baseline = [_baseline_client(port) for _ in range(args.residents)]
        measured = {}
        for which in ("path", "baseline") if number % 2 == 0 else ("baseline", "path"):
            before = cpu_snapshot(server_pid, dbname)
            if which == "path":
                jobs = [lambda: resident_path(port, form_path)] * args.residents
            else:
                jobs = [lambda c=c: _baseline_post(c) for c in baseline]
            elapsed, latencies = run_load(jobs, args.concurrency)
            server_seconds, database_seconds = cpu_used(before, cpu_snapshot(server_pid, dbname))
            measured[which] = (
                server_seconds / args.residents * 1000,
                database_seconds / args.residents * 1000,
                args.residents / elapsed,
                latencies,
            )
        sent += args.residents
        server_ms, database_ms, rate, latencies = measured["path"]
        base_ms = measured["baseline"][0] + measured["baseline"][1]
        rows.append((server_ms + database_ms, server_ms, database_ms, rate, latencies, base_ms))
        print(
            f"path round {number + 1}: CPU ms per completed submission: app server {server_ms:.2f} + "
            f"PostgreSQL {database_ms:.2f} = {server_ms + database_ms:.2f}; {rate:.1f} submissions/s; "
            f"one-INSERT request {base_ms:.2f} ms",
            flush=True,
        )
    total, server_ms, database_ms, rate, latencies, base_ms = sorted(rows, key=lambda r: r[0])[len(rows) // 2]
    print(
        f"resident path through a 3-field form (GET form, POST answers, GET 確認画面, POST submit, GET completion), "
        f"{args.residents} residents per round, {args.concurrency} at a time, median of {args.rounds} rounds "
        f"({', '.join(f'{r[0]:.1f}' for r in rows)})"
    )
    print(f"{'CPU ms per completed submission':36}{'app server':>12}{'PostgreSQL':>12}{'together':>10}")
    print(f"{'median round':36}{server_ms:12.2f}{database_ms:12.2f}{total:10.2f}   (goal: together <= 18)")
    print(
        f"that round: {rate:.1f} submissions/s, whole path p50 {pct(latencies, 50):.1f} ms, "
        f"p95 {pct(latencies, 95):.1f} ms; a one-INSERT request cost {base_ms:.2f} ms "
        f"(the path = {total / base_ms:.1f} of them; median of the rounds "
        f"{statistics.median(r[0] / r[5] for r in rows):.1f})"
    )
    return sent


def _baseline_client(port: int) -> Client:
    client = Client(port)
    client.request("GET", "/bench/insert/")
    return client


def _baseline_post(client: Client) -> None:
    status, _, _ = client.request("POST", "/bench/insert/", {"csrfmiddlewaretoken": client.csrf()})
    assert status == 200, status


def measure_submit(args, port: int, server_pid: int, dbname: str, form_path: str) -> int:
    """The final submit next to the one-INSERT baseline, alternating; returns how many submissions were sent."""

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
        server_seconds, database_seconds = cpu_used(before, cpu_snapshot(server_pid, dbname))
        return server_seconds / requests, database_seconds / requests

    for number in range(args.rounds):
        clients = [baseline_client() for _ in range(args.requests)]
        residents = [prepare_resident(port, form_path) for _ in range(args.requests)]
        base = sub = None
        for which in ("base", "sub") if number % 2 == 0 else ("sub", "base"):
            cpu_before = cpu_snapshot(server_pid, dbname)
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
    return warm + args.rounds * args.requests + whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--mode",
        choices=("submit", "path", "all"),
        default="submit",
        help="submit: the final submit next to a one-INSERT view; path: a resident's whole path through a "
        "3-field form, CPU per completed submission; all: both",
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="baseline and submit alternate this many times (or path rounds); the median counts",
    )
    parser.add_argument("--residents", type=int, default=200, help="residents per path round")
    parser.add_argument(
        "--as-owner", action="store_true", help="the app server as the tables' owner: no row-level security"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/madoguchi_bench")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret",
        "MADOGUCHI_INSECURE_DEV_KEY": "1",  # the fixed development master keyset: real AES-256-GCM
        "SUBMISSIONS_PER_CLIENT": "1000000000",  # every simulated resident comes from this one host
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "ROOT_URLCONF": "bench.baseline_urls",
        # Connections kept for the whole run: a backend that closes between two readings of /proc takes
        # its CPU with it (rounds then read 2-3 ms low on PostgreSQL's side).
        "DB_CONN_MAX_AGE": "3600",
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
        ["load_demo", "-v0", "--on-a-server"],
        ["collectstatic", "--noinput", "-v0"],
    )
    for command in setup:
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)
    # The app server works as production's should: as a role that owns no table, under row-level security
    # (lib/tenancy.py). --as-owner measures without it.
    if not args.as_owner:
        subprocess.run([PY, "manage.py", "db_app_role", "madoguchi_app"], cwd=ROOT, env=env, check=True)
    server_env = env if args.as_owner else {**env, "DATABASE_APP_ROLE": "madoguchi_app"}
    procedure_id = subprocess.run(
        [PY, "manage.py", "shell", "-c",
         "from madoguchi.procedures.models import Procedure as P; p=P.objects.get(kind='signup'); "
         f"P.objects.filter(pk=p.pk).update(capacity={args.requests * (args.rounds + 2)}); print(p.pk)"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    three_field_id = subprocess.run(
        [PY, "manage.py", "shell", "-c", MAKE_THREE_FIELD_FORM.format(schema=json.dumps(THREE_FIELDS))],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip

    count_submissions = [
        PY,
        "manage.py",
        "shell",
        "-c",
        "from madoguchi.submissions.models import Submission; print(Submission.objects.count())",
    ]
    before = int(
        subprocess.run(
            count_submissions, cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
    )  # the demo's own submissions
    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "madoguchi.wsgi", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "-", "--log-level", "warning",
         # No recycling of workers in the middle of a round: a new worker's start (importing Django)
         # would count as the requests' CPU, and the old one's would be lost.
         "--max-requests", "0"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    expected = 0
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        if args.mode in ("submit", "all"):
            expected += measure_submit(args, port, server.pid, dbname, f"/312011/procedures/{procedure_id}/")
        if args.mode in ("path", "all"):
            expected += measure_path(args, port, server.pid, dbname, f"/312011/procedures/{three_field_id}/")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    count = int(subprocess.run(count_submissions, cwd=ROOT, env=env, check=True, capture_output=True,
                               text=True).stdout.split()[-1]) - before  # fmt: skip
    print(f"submissions stored: {count} (expected {expected})")


if __name__ == "__main__":
    main()
