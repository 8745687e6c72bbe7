#!/usr/bin/env bash
# GPU check of seqgx's inference on the full-size Enformer (see benchmarks/gpu_check.py and the
# "GPU check" section of docs/performance.md), stopped hard at 8 minutes.
#
#   bash benchmarks/gpu_check.sh [--dry-run] [--out DIR] [--budget SECONDS]
#
# Python: $PYTHON, else the repository's .venv, else python3. Exit status: the check's (0: no FAIL
# verdict, 1: a FAIL), 124 when the time limit stopped it (DIR/gpu_check.json keeps the sections done).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
# The checkout's seqgx even where it is not installed (a bare GPU machine with torch and onnxruntime).
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
limit=480

status=0
timeout --kill-after=10 "$limit" "$python" "$here/gpu_check.py" "$@" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "gpu_check: stopped at the ${limit} s limit; the sections that ended are in --out DIR/gpu_check.json" >&2
    exit 124
fi
exit "$status"
