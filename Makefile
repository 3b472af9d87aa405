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

# chromium is optional here: the course's page checks skip without it (CI installs it)
test: dot $(VENV)/.installed-test
	$(call debian_package,chromium,chromium,to check the course's pages; their tests skip without it,optional)
	$(PY) -m pytest -q

# with PyTorch installed, the oracle tests (skipped by make test without torch; marked by tests/conftest.py)
test-oracle: dot $(VENV)/.installed-oracle
	$(PY) -m pytest -q -m "oracle and not slow"

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
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[bench]'
	touch $@

$(VENV)/.installed-oracle: pyproject.toml $(VENV)/.installed-test
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[test,plot,oracle]'
	touch $@

$(VENV)/.installed-course: pyproject.toml $(VENV)/.installed
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[plot,course]'
	touch $@

# $(call debian_package,COMMAND,PACKAGE,WHAT FOR[,optional]): install Debian's PACKAGE with apt (as
# root, or with sudo) when COMMAND is missing; otherwise say how to get it, and stop unless optional.
define debian_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "'$(1)' is missing ($(3)): install it (Debian/Ubuntu: apt-get install $(2); macOS: brew install $(2))"; exit $(if $(4),0,1); fi; \
	  echo "installing Debian's $(2) ($(3))"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; }
endef

# graphviz's `dot` binary renders the SVGs
dot:
	$(call debian_package,dot,graphviz,for the pictures)

# headless chromium opens the course's pages (make course, tests/test_course.py)
chromium:
	$(call debian_package,chromium,chromium,to check the course's pages)

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .hypothesis
