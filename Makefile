# Keras Graph Inspector: `make demo` runs the tool on the sample models,
# `make test` runs the test suite. Both set up everything they need first:
# a virtualenv in .venv with TensorFlow, and Graphviz's `dot` binary.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.stamp-install
SAMPLES := samples/build
OUT     ?= out
PYTEST_ARGS ?=
# TensorFlow's C++ start-up chatter off for the commands that load it
DEMO_ENV := TF_CPP_MIN_LOG_LEVEL=2

.PHONY: setup dot browser samples demo test bench clean

setup: $(STAMP) dot

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Graphviz's `dot` (used by `inspector render`), from the system package manager.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing graphviz (dot)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  if command -v apt-get >/dev/null 2>&1; then $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; \
	  elif command -v dnf >/dev/null 2>&1; then $$SUDO dnf install -y graphviz; \
	  elif command -v brew >/dev/null 2>&1; then brew install graphviz; \
	  else echo "please install Graphviz (the 'dot' binary)"; exit 1; fi; }

# Chromium and its WebDriver (the HTML viewer's browser tests), from the system package manager.
# Only Debian's packages: no browser download step ever runs.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  echo "installing chromium + chromium-driver (browser tests)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  if command -v apt-get >/dev/null 2>&1; then { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	    || echo "could not install chromium: the HTML viewer's browser tests will be skipped"; \
	  else echo "no apt-get: the HTML viewer's browser tests will be skipped"; fi; }

$(SAMPLES)/.built: $(STAMP) samples/seed_models.py samples/build.py
	$(PY) -m samples.build --out $(SAMPLES)
	touch $@

samples: $(SAMPLES)/.built

demo: setup samples
	@mkdir -p $(OUT)
	$(VENV)/bin/inspector summary $(SAMPLES)/customer_ticket_model.keras
	$(VENV)/bin/inspector summary $(SAMPLES)/customer_ticket_with_difficulty.keras
	$(VENV)/bin/inspector render $(SAMPLES)/customer_ticket_model.keras -o $(OUT)/customer_ticket_model.svg
	$(VENV)/bin/inspector render $(SAMPLES)/customer_ticket_with_difficulty.keras -o $(OUT)/customer_ticket_with_difficulty.svg --highlight difficulty
	$(VENV)/bin/inspector render $(SAMPLES)/customer_ticket_model.keras -o $(OUT)/customer_ticket_model.html
	$(VENV)/bin/inspector export $(SAMPLES)/customer_ticket_model.keras -o $(OUT)/customer_ticket_model.graphml
	$(VENV)/bin/inspector diff $(SAMPLES)/customer_ticket_model.keras $(SAMPLES)/customer_ticket_with_difficulty.keras
	$(VENV)/bin/inspector render $(SAMPLES)/customer_ticket_with_difficulty.keras -o $(OUT)/difficulty_head_diff.svg --diff $(SAMPLES)/customer_ticket_model.keras
	@echo "--- feature extraction (the chapter's model.layers[4]: 'dense'), with TensorFlow"
	$(DEMO_ENV) $(VENV)/bin/inspector extract $(SAMPLES)/customer_ticket_model.keras --layer 4 -o $(OUT)/ticket_features.keras
	$(DEMO_ENV) $(VENV)/bin/inspector graft $(SAMPLES)/customer_ticket_model.keras --at dense --head difficulty:3:softmax -o $(OUT)/ticket_with_difficulty.keras
	$(DEMO_ENV) $(VENV)/bin/inspector features $(SAMPLES)/customer_ticket_model.keras --layer dense --input $(SAMPLES)/tickets.npz -o $(OUT)/ticket_features.npy
	@echo "--- subclassed models, traced"
	$(DEMO_ENV) $(VENV)/bin/inspector summary samples/seed_models.py:my_model
	$(DEMO_ENV) $(VENV)/bin/inspector summary samples/seed_models.py:broken_customer_ticket_subclassed \
	    --input title=10000 --input text_body=10000 --input tags=100 \
	  || echo "(exit $$?: the chapter's CustomerTicketModel calls priority_scorer twice; the line above says where and why)"
	@echo "diagrams, submodels and features written to $(OUT)/"

test: setup browser
	$(VENV)/bin/ruff check .
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup samples
	$(PY) -m pip install -q pydot matplotlib
	$(PY) bench/report.py

clean:
	rm -rf $(SAMPLES) $(OUT) .pytest_cache
