# Two commands on a fresh machine: `make demo` (set up, scan examples/library, query it)
# and `make test` (set up, run the tests). Everything is installed by these rules.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TAGGER := $(VENV)/bin/tagger
DEMO_DB ?= build/demo.db

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

SYSTEM_PACKAGES := scripts/system-packages.txt scripts/system-packages-label.txt \
	scripts/system-packages-train.txt

$(VENV)/.installed: pyproject.toml setup.py constraints.txt $(SYSTEM_PACKAGES)
	scripts/install-system-packages.sh $(SYSTEM_PACKAGES)
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: this resolves to the local CPU build instead of several GB of CUDA.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test,train,ray]'
	touch $@

demo: setup
	mkdir -p build
	# Exit code 1 is expected: the example library holds a corrupt file and a fake one on purpose.
	$(TAGGER) scan examples/library --db $(DEMO_DB) || [ $$? -eq 1 ]
	$(TAGGER) query --db $(DEMO_DB)
	$(TAGGER) query --db $(DEMO_DB) --has sax
	$(TAGGER) show --db $(DEMO_DB) examples/library/$$(ls examples/library | grep -m1 -i sax)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_scan.py

clean:
	rm -rf build .pytest_cache
