"""gunicorn settings, read automatically when gunicorn starts in this directory; each overridable by env.

Threaded workers: a long CSV export streams from one thread while the worker keeps answering its
heartbeat, so `timeout` only stops a worker that is really stuck.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
max_requests = 5000  # recycle workers now and then so no slow leak grows for weeks
max_requests_jitter = 500
# Paths only: query strings (inbox filters) stay out of the access log.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): a second node started by
# the same user on the same host (several app nodes, a bench beside a running server) would take it over from
# the first. Off unless a node is given its own path.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
