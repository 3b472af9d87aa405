# Every target sets itself up: a fresh clone needs only python3 (and apt for graphviz's `dot`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Keep BLAS to one thread: the models are small and the benchmarks compare like with like.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: demo test test-oracle test-slow bench experiment course dot chromium clean

demo: dot $(VENV)/.installed
	$(PY) -m rnnlab.demo --out out $(DEMO_FLAGS)

test: dot chromium $(VENV)/.installed-test
	$(PY) -m pytest -q

# the suite again with PyTorch installed, so the oracle tests (skipped without torch) run too (the
# course, which does not use torch, ran in make test)
test-oracle: dot $(VENV)/.installed-oracle
	$(PY) -m pytest -q --ignore=tests/test_course.py

test-slow: dot $(VENV)/.installed-test
	$(PY) -m pytest -q -m slow

# OpenBLAS picks its own kernel here, as on users' machines (see bench/RESULTS.md for both settings)
bench: $(VENV)/.installed-bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench

# the adding problem across cells and lengths (about 30 minutes on two cores)
experiment: $(VENV)/.installed
	$(BIN)/minigrad experiment adding --cells rnn,lstm,gru --lengths 10,50,100 --out out

# the course: every lesson of docs/course/ executed, as HTML pages with an index in out/course/,
# then checked in headless Chromium (every picture drawn); a few minutes on two cores
course: dot chromium $(VENV)/.installed-course
	$(PY) docs/build_course.py --out out/course --check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[plot]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[test,plot,course,interop]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[plot,bench]'
	touch $@

$(VENV)/.installed-oracle: pyproject.toml $(VENV)/.installed-test
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[test,plot,oracle]'
	touch $@

$(VENV)/.installed-course: pyproject.toml $(VENV)/.installed
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[plot,course]'
	touch $@

# graphviz's `dot` binary renders the SVGs; install Debian's package when it is missing.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's graphviz (for the dot binary)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "graphviz's 'dot' is missing: install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"; \
	    exit 1; \
	  fi; }

# Debian's chromium opens the course's pages headless (make course, tests/test_course.py); installed when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium (to check the course's pages)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: install it (Debian/Ubuntu: apt-get install chromium) to check the course's pages"; \
	    exit 1; \
	  fi; }

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .hypothesis
