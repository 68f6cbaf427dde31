# Two commands do all set-up on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE := madoguchi.settings

.PHONY: run test lint format worker install migrate demo demo-code bench bench-path bench-builder bench-search bench-paper bench-full bench-scale bench-export bench-signup locale clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py createcachetable

demo: migrate
	DEBUG=true $(PY) manage.py load_demo

# The current code of the demo admins' second factor (2段階認証), for trying the demo without a phone
demo-code: install
	@DEBUG=true $(PY) manage.py demo_code

run: demo
	@echo ""
	@echo "  窓口: http://127.0.0.1:8000/  職員用: http://127.0.0.1:8000/staff/  管理: http://127.0.0.1:8000/admin/"
	@echo "  メールはこのターミナルに表示されます（送信はワーカーが同時に動いて行います）。"
	@echo ""
	DEBUG=true $(PY) manage.py db_worker --no-reload --interval 2 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

worker: install
	DEBUG=true $(PY) manage.py db_worker --no-reload --interval 1

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MADOGUCHI_INSECURE_DEV_KEY=1 SECURE_COOKIES=false STATIC_MANIFEST=false WHITENOISE_USE_FINDERS=true \
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Everything in bench/ on PostgreSQL, each on its own database and port, ratios measured in the same run.
# Quick (make bench): the staff pages at 1,000,000 submissions; full (make bench-full): at 10,000,000.
BENCH_ROWS ?= 1000000
bench: install
	$(PY) bench/submission_path.py --mode all
	$(PY) bench/scale.py --rows $(BENCH_ROWS)
	$(PY) bench/inbox_export.py --rows 1000000
	$(PY) bench/signup_race.py
	$(PY) bench/search.py
	$(PY) bench/builder.py
	$(PY) bench/paper.py

bench-full: install
	$(MAKE) bench BENCH_ROWS=10000000

# The inbox's first page, indicator and council pages at 10,000 and at BENCH_ROWS submissions, 1,788 organizations
bench-scale: install
	$(PY) bench/scale.py --rows $(BENCH_ROWS)

# CSV and .xlsx of 1,000,000 rows: peak memory next to 10,000 rows, rows/s next to PostgreSQL's COPY
bench-export: install
	$(PY) bench/inbox_export.py --rows 1000000

# 1,000 residents at once for 50 places through gunicorn
bench-signup: install
	$(PY) bench/signup_race.py

bench-path: install
	$(PY) bench/submission_path.py --mode path

bench-builder: install
	$(PY) bench/builder.py

bench-search: install
	$(PY) bench/search.py

# The 決裁用 PDF of a 50-field case (goal <= 1 s) and a ZIP of 1,000 attachments in flat memory
bench-paper: install
	$(PY) bench/paper.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
