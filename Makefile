# Handover: the two commands a new user runs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HANDOVER_DATA_DIR ?= $(CURDIR)/data
# PDF export: WeasyPrint needs Pango; libharfbuzz-subset0 makes embedding the CJK font ~30× faster.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
# openssh-server, sudo (cvtsudoers), util-linux (unshare, nsenter, last), login (lastlog): the Linux connector's
# tests run real sshd instances in their own mount namespaces (tests/connectors/conftest.py). mariadb-server,
# mariadb-client: the MySQL/MariaDB connector's tests start their own mariadbd on a free loopback port; slapd,
# ldap-utils: the LDAP connector's tests start their own slapd (slapadd'ed cn=config) likewise. nginx: the
# deployment test (tests/deploy/) runs deploy/nginx/handover.conf in front of gunicorn on loopback, and
# checks deploy/logrotate/handover with logrotate.
DEBIAN_TEST_PACKAGES := chromium fonts-noto-cjk postgresql gettext poppler-utils $(PDF_PACKAGES) \
	openssh-server openssh-client sudo util-linux login mariadb-server mariadb-client slapd ldap-utils nginx logrotate b3sum \
	libreoffice-calc-nogui
# The AD connector's tests provision a Samba AD DC on a loopback address of their own. Without recommends: they
# would bring libnss-winbind and libpam-winbind, which rewrite the test machine's nsswitch.conf and PAM stack.
DEBIAN_TEST_SAMBA := samba samba-ad-dc samba-ad-provision
DEBIAN_PACKAGES := gettext $(PDF_PACKAGES)

.PHONY: demo serve test test-sqlite test-postgres check bench fuzz install install-test debian debian-test messages bytecode clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python debian
	$(BIN)/pip install --quiet -e .
	$(MAKE) --no-print-directory messages bytecode

install-test: $(BIN)/python debian-test
	$(BIN)/pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory messages bytecode

# An editable install is not byte-compiled as a wheel's is, and with PYTHONDONTWRITEBYTECODE set (as on the
# CI machines) every process compiled every module again: 20 ms of each handover-agent run, more of each
# `handover` command. Python still checks each .pyc against its source.
bytecode:
	$(BIN)/python -m compileall -q src/handover >/dev/null

# Debian packages, installed only when missing (apt-get needs root; CI and the demo laptop run as root).
debian:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

debian-test:
	@missing=$$(for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
	@missing=$$(for p in $(DEBIAN_TEST_SAMBA); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; fi

# Only for `make bench`: the tools the fixity benchmark compares with (sha256sum comes with coreutils).
DEBIAN_BENCH_PACKAGES := hashdeep b3sum
.PHONY: install-bench debian-bench

debian-bench:
	@missing=$$(for p in $(DEBIAN_BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

install-bench: install-test debian-bench
	$(BIN)/pip install --quiet -e '.[test,bench]'

messages:
	cd src/handover && ../../$(BIN)/django-admin compilemessages --ignore '.venv' -v 0

demo: install
	$(BIN)/handover migrate --no-input -v 0
	$(BIN)/handover demo
	$(BIN)/handover serve --addr 127.0.0.1:8000

# The two passes run side by side (CI's budget is 30 minutes and each pass takes ~14 on 2 cores; most of a
# pass waits on subprocesses, servers and fsync): the PostgreSQL pass writes to a log that is printed after
# the SQLite pass's own output, and the target fails if either failed.
test: install-test
	@log=$$(mktemp -t handover-test-postgres.XXXXXX); \
	( $(MAKE) --no-print-directory test-postgres >"$$log" 2>&1 ) & pg=$$!; \
	$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	wait $$pg; postgres=$$?; \
	echo "--- the PostgreSQL pass (ran beside the SQLite pass) ---"; cat "$$log"; rm -f "$$log"; \
	echo "SQLite pass: exit $$sqlite; PostgreSQL pass: exit $$postgres"; \
	test $$sqlite -eq 0 && test $$postgres -eq 0

# Each pass has its own data folder (the test settings make a temporary one when none is given): the two run at
# once, and a test that checks nothing was left in the evidence folder must not see the other pass's uploads.
test-sqlite:
	HANDOVER_DATA_DIR= HANDOVER_TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider -m 'not postgres_pass and not bench'

# The PostgreSQL pass leaves out what does not touch the suite's database: the browser tests (their server
# runs the laptop settings on SQLite whatever the suite uses), the Django-free engines (fixity, connectors:
# their own servers, no Django) and the benchmarks' smoke runs (their own data folders, SQLite). It runs, and
# only it, the connectors' Django-backed rotation and restore tests (marked postgres_pass by their conftest).
test-postgres:
	HANDOVER_DATA_DIR= HANDOVER_TEST_DATABASE=postgres $(BIN)/pytest -q -p no:cacheprovider \
		-m 'not e2e and not sqlite_pass and not bench' --ignore=tests/fixity --ignore=tests/test_bench.py

# lint-imports: the apps' declared layering ([tool.importlinter] in pyproject.toml, docs/architecture.md);
# --no-cache, as grimp's cache can outlive an edit (0.5 s without it).
check: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-cache
	DJANGO_SETTINGS_MODULE=handover.settings.test $(BIN)/handover check
	DJANGO_SETTINGS_MODULE=handover.settings.test $(BIN)/handover makemigrations --check --dry-run

# Every benchmark, one after the other (figures in docs/benchmarks.md); not part of `make test`.
bench: install-bench
	$(BIN)/python bench/audit_bench.py
	$(BIN)/python bench/backup_bench.py
	$(BIN)/python bench/workflow_bench.py
	$(BIN)/python bench/workflow_pages.py
	$(BIN)/python bench/package_bench.py --prefill
	$(BIN)/python bench/package_bench.py --sites 30
	$(BIN)/python bench/vault_bench.py
	$(BIN)/python bench/fixity_bench.py
	$(BIN)/python bench/fixity_convergence.py
	$(BIN)/python bench/bundle_bench.py
	$(BIN)/python bench/registers_bench.py
	HANDOVER_DATA_DIR= HANDOVER_TEST_DATABASE=sqlite HANDOVER_CRASH_MATRIX=full \
		$(BIN)/pytest -q -p no:cacheprovider tests/crash
	HANDOVER_DATA_DIR= HANDOVER_TEST_DATABASE=postgres HANDOVER_CRASH_MATRIX=full \
		$(BIN)/pytest -q -p no:cacheprovider tests/crash/test_crash_points.py
	$(BIN)/python bench/discovery_gather.py
	$(BIN)/python bench/discovery_django.py
	$(BIN)/python bench/discovery_review.py
	$(BIN)/python bench/rotation_run.py
	$(BIN)/python bench/risk_vulns.py
	$(BIN)/python bench/risk_reports.py
	$(BIN)/python bench/handover_day.py
	$(BIN)/python bench/handover_day.py --postgres
	# the crash matrix of the platforms that make test leaves out (tests/connectors/test_rotation_crash_process.py)
	HANDOVER_DATA_DIR= HANDOVER_TEST_DATABASE=postgres $(BIN)/pytest -q -p no:cacheprovider -m bench tests/connectors
	$(MAKE) --no-print-directory fuzz

clean:
	rm -rf $(VENV) data

# The parsers' Hypothesis properties (tests/fuzzing.py) with 2,000 random examples each instead of `make test`'s
# 30 derandomized ones, to look for new crashes (HANDOVER_FUZZ_EXAMPLES=N sets the count), and schemathesis with 50
# random requests per operation and role. Part of `make bench`.
FUZZ_TESTS = tests/registers/test_io_fuzz.py tests/connectors/test_offline_fuzz.py tests/risk/test_vulnfiles_fuzz.py \
	tests/fixity/test_fuzz_files.py tests/backups/test_evidence_fuzz.py tests/api/test_schemathesis.py
fuzz: install-test
	HANDOVER_FUZZ=long $(BIN)/pytest -q -p no:cacheprovider $(FUZZ_TESTS)
