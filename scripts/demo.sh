#!/usr/bin/env bash
# The main job: set up, then replay the embedded speculative-decoding workload
# on the GPU when one is visible, else on the CPU backend. Arguments go to
# examples/demo.py (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python examples/demo.py "$@"
