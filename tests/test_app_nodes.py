"""Several app nodes on one host, started by the same user, each keep serving (no shared control socket)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- a local test server
                return response.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_two_nodes_side_by_side_both_serve_and_leave_no_shared_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "MADOGUCHI_INSECURE_DEV_KEY": "1",
        "WEB_CONCURRENCY": "1",
    }
    ports = [free_port(), free_port()]
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "madoguchi.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port in ports:
            assert wait_for(f"http://127.0.0.1:{port}/healthz") == 200
        # Both still up after the second started: neither took the other's socket away.
        assert all(node.poll() is None for node in nodes)
        assert not (home / ".gunicorn").exists()
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=30)
