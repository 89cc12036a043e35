#!/usr/bin/env bash
# Idempotent set-up of the repo's virtualenv (.venv), used by scripts/run.sh and scripts/test.sh.
#
#   bash scripts/setup.sh            # runtime + test dependencies
#   bash scripts/setup.sh --no-test  # runtime dependencies only
#
# NOTE: torch is pinned to 2.13.0 where there is no CUDA: this machine kind ships that CPU wheel on
# disk (pip's find-links), while an unpinned or newer torch pulls several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extra="[test]"
mode="test"
for arg in "$@"; do
    case "$arg" in
        --no-test) extra=""; mode="no-test" ;;
        *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

venv=".venv"
stamp="$venv/.poolscope-setup-stamp"
pip=("$venv/bin/pip" install -qq --disable-pip-version-check)

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    "${POOLSCOPE_PYTHON:-python3}" -m venv "$venv"
fi

# Skip the installs when a stamp newer than the inputs says they are done (a "test" set-up also
# covers a "no-test" one, not the reverse).
if [[ -f "$stamp" && "$stamp" -nt pyproject.toml && "$stamp" -nt scripts/setup.sh ]]; then
    if [[ "$mode" == "no-test" || "$(cat "$stamp")" == "test" ]]; then
        exit 0
    fi
fi

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: CUDA found, installing torch>=2.5,<3" >&2
    "${pip[@]}" "torch>=2.5,<3"
else
    echo "setup: no CUDA, installing torch==2.13.0 (CPU)" >&2
    "${pip[@]}" "torch==2.13.0"
fi

echo "setup: installing poolscope (editable${extra:+, with $extra})" >&2
"${pip[@]}" -e ".${extra}"
echo "$mode" >"$stamp"
