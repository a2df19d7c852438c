#!/usr/bin/env bash
# The one entry point that cron, the systemd unit and the CI workflow call.
#
#   cron/kaggle-job-run.sh [extra `kaggle-job run` options, e.g. --submit]
#
# 1. Reads an env file, if there is one (shell syntax: KEY=value lines, quote values with spaces;
#    credentials belong here, so chmod 600 it):
#    $KAGGLE_JOB_ENV_FILE, else ${XDG_CONFIG_HOME:-~/.config}/kaggle-job/env.
#    Useful keys: KAGGLE_USERNAME, KAGGLE_KEY (or KAGGLE_API_TOKEN), KAGGLE_JOB_HOME,
#    KAGGLE_JOB_ARGS (extra options, split on spaces), KAGGLE_JOB_VENV, KAGGLE_JOB_BIN.
# 2. Finds kaggle-job: $KAGGLE_JOB_BIN, else $KAGGLE_JOB_VENV/bin, else the checkout's .venv,
#    else the PATH (cron's PATH is minimal, so one of the first three is safer).
# 3. Runs `kaggle-job run --log-format json ...` with exec, so its exit code (README: 0 ok,
#    7 another run holds the lock, ...) is the script's, and signals reach it directly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checkout="$(dirname "$here")"

env_file="${KAGGLE_JOB_ENV_FILE:-${XDG_CONFIG_HOME:-${HOME:-/nonexistent}/.config}/kaggle-job/env}"
if [[ -f "$env_file" ]]; then
    if [[ -n "$(find "$env_file" -perm /o+r 2>/dev/null)" ]]; then
        echo "{\"level\": \"warning\", \"event\": \"wrapper.env_file\", \"msg\": \"$env_file is world-readable; chmod 600 it\"}" >&2
    fi
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
fi

if [[ -n "${KAGGLE_JOB_BIN:-}" ]]; then
    bin="$KAGGLE_JOB_BIN"
elif [[ -n "${KAGGLE_JOB_VENV:-}" ]]; then
    bin="$KAGGLE_JOB_VENV/bin/kaggle-job"
elif [[ -x "$checkout/.venv/bin/kaggle-job" ]]; then
    bin="$checkout/.venv/bin/kaggle-job"
else
    bin="$(command -v kaggle-job || true)"
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
    echo "{\"level\": \"error\", \"event\": \"wrapper.no_binary\", \"msg\": \"kaggle-job not found: set KAGGLE_JOB_BIN or KAGGLE_JOB_VENV, or run make install in $checkout\", \"exit_code\": 2}" >&2
    exit 2
fi

# Outputs land in one fixed home, never in whatever directory cron started us in.
export KAGGLE_JOB_HOME="${KAGGLE_JOB_HOME:-$checkout}"

read -r -a extra <<< "${KAGGLE_JOB_ARGS:-}"
exec "$bin" run --log-format json ${extra[@]+"${extra[@]}"} "$@"
