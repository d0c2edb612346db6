# Two commands do everything from a fresh clone: `make demo` and `make test`.
# Each sets up .venv first when needed (scripts/setup.sh: seconds when nothing changed).
SHELL := /bin/bash
PY := .venv/bin/python
# DDS stays on loopback; each run picks its own ROS_DOMAIN_ID (inhand/dds_env.py).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export MUJOCO_GL ?= egl
DEMO_SECONDS ?= 40

.PHONY: setup test demo bench soak colcon lint clean

setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest

# Another hand: make demo hand:=leap (its profile's launch defaults: scene, policy, limiter).
demo: setup
	$(PY) -m inhand demo --duration $(DEMO_SECONDS) $(if $(hand),hand:=$(hand))

bench: setup
	$(PY) bench/run_all.py

# The 1-hour soak of the full graph with vision (bench/soak.py; not CI, not part of bench).
SOAK_SECONDS ?= 3600
soak: setup
	$(PY) bench/soak.py --duration $(SOAK_SECONDS)

colcon: setup
	bash scripts/colcon_build.sh build/colcon

lint: setup
	$(PY) -m pytest -m linter

clean:
	rm -rf .venv build install log
