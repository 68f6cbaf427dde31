# Two commands do all set-up on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE := madoguchi.settings

.PHONY: run test lint format worker install migrate demo bench bench-path bench-builder bench-search bench-paper locale clean

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

bench: install
	$(PY) bench/submission_path.py --mode all

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
