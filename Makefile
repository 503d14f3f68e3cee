# ptfops: `make run` serves the portal with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTANCE ?= instance
PORT ?= 8000
export PTFOPS_INSTANCE ?= $(abspath $(INSTANCE))

# Debian packages the tests and benchmarks use (installed when missing, as root).
DEBIAN_PACKAGES := chromium nginx wrk libxml2-utils postgresql fonts-dejavu-core \
  debootstrap systemd-container apt-cacher-ng zstd iproute2 openssh-client

.PHONY: run test install system-deps translations lint test-sqlite test-postgresql bench-portal bench-iati bench-ansible clean

$(BIN)/ptfops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/ptfops translations iati-standard

# The official IATI 2.03 schemas, codelists and rulesets (pyIATI 0.4.1), kept off sys.path.
IATI_STANDARD ?= $(or $(PTFOPS_IATI_STANDARD),.cache/iati-standard)
.PHONY: iati-standard
iati-standard: $(BIN)/ptfops
	@test -f $(IATI_STANDARD)/iati/resources/standard/2-03/schemas/iati-activities-schema.xsd || \
	  $(BIN)/pip install --quiet --no-deps --target $(IATI_STANDARD) pyIATI==0.4.1

translations: $(BIN)/ptfops
	$(BIN)/pybabel compile --use-fuzzy -d sites/translations -D messages >/dev/null

run: install
	$(BIN)/ptfops inventory check
	$(BIN)/ptfops db upgrade
	$(BIN)/ptfops seed-demo
	$(BIN)/ptfops serve --port $(PORT)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root)"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: $(BIN)/ptfops
	$(BIN)/ruff check .

test: system-deps install lint
	$(BIN)/ptfops inventory check
	$(BIN)/pytest -n 2 --dist loadfile -m "not lab"
	$(BIN)/pytest -m lab  # one lab per machine: these build real hosts, one module at a time
	$(BIN)/pytest -n 2 --dist loadfile --db=postgresql -m "not e2e and not lab"

bench-portal: system-deps install
	$(BIN)/python bench/portal/run.py

bench-ansible: system-deps install  # root: a lab of 3 hosts, torn down at the end
	$(BIN)/python bench/ansible/run.py

bench-iati: system-deps install
	$(BIN)/python bench/iati/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
