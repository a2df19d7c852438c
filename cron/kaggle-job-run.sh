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
# 3. Runs `kaggle-job run --log-format json ...` under an overall time limit,
#    $KAGGLE_JOB_TIMEOUT (a timeout(1) duration, default 4h; 0: no limit, and the wrapper execs
#    the job). Its exit code (README, Exit codes: 0 ok, 7 another run holds the lock, ...) is the script's;
#    SIGTERM/SIGINT/SIGHUP sent to the script go on to the job, which cleans up and exits 130.
#    A run that outlasts the limit gets SIGTERM, then SIGKILL after $KAGGLE_JOB_KILL_AFTER (default
#    2m): the script then says so in one JSON line and exits 124 (stopped) or 137 (killed). Never 0,
#    and never 7: a hung run would otherwise hold the lock and every later run would exit 7, which
#    schedulers read as "skipped" (systemd's SuccessExitStatus=7), so nobody would be told.
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
job=("$bin" run --log-format json ${extra[@]+"${extra[@]}"} "$@")

say() {  # one JSON line on stderr, like the job's own
    echo "{\"level\": \"$1\", \"event\": \"$2\", \"msg\": \"$3\"${4:+, \"exit_code\": $4}}" >&2
}

limit="${KAGGLE_JOB_TIMEOUT:-4h}"
kill_after="${KAGGLE_JOB_KILL_AFTER:-2m}"
if [[ "$limit" == "0" ]]; then
    exec "${job[@]}"
fi
if ! command -v timeout >/dev/null 2>&1; then
    say warning wrapper.no_timeout "timeout(1) not found: running without the $limit time limit"
    exec "${job[@]}"
fi

# The trap is set before the job starts, so a signal that arrives as it starts is passed on, not lost
# (and does not end the script with the job left running); `pending` covers the fork itself.
child="" pending="" stopped=""
trap 'stopped=1; if [[ -n "$child" ]]; then kill -TERM "$child" 2>/dev/null || true; else pending=1; fi' TERM INT HUP
timeout --kill-after="$kill_after" "$limit" "${job[@]}" &
child=$!
if [[ -n "$pending" ]]; then kill -TERM "$child" 2>/dev/null || true; fi
status=0
wait "$child" || status=$?
while kill -0 "$child" 2>/dev/null; do  # a trapped signal ends `wait` early: wait for the job itself
    status=0
    wait "$child" || status=$?
done
# timeout(1) puts itself and the job in a process group named by its pid. A SIGTERM that reaches timeout
# in the instant after its fork(), before it has noted the job's pid, ends timeout (143) without passing
# the signal on (coreutils 9.1: 9 of 40 SIGTERMs sent as the job started, on a loaded 2-core machine). The
# job is then orphaned but still in that group: pass the signal on and wait for the group to empty.
group="$child" child=""  # reaped: its pid may be reused, so the trap no longer signals it
if [[ -n "$stopped" ]] && kill -0 -- "-$group" 2>/dev/null; then
    kill -TERM -- "-$group" 2>/dev/null || true
    # 143 is timeout's own death: the job's status went with it, and it was interrupted, which 130 says
    if [[ "$status" == 143 ]]; then status=130; fi
    # timeout(1) again, for its duration syntax: SIGKILL if the group outlasts KAGGLE_JOB_KILL_AFTER
    if ! timeout "$kill_after" bash -c 'while kill -0 -- "-$1" 2>/dev/null; do sleep 0.2; done' _ "$group"; then
        kill -KILL -- "-$group" 2>/dev/null || true
        status=137
    fi
fi
case "$status" in
    124) say error wrapper.timeout "kaggle-job run exceeded KAGGLE_JOB_TIMEOUT=$limit and was stopped" 124 ;;
    137) say error wrapper.killed "kaggle-job run was killed with SIGKILL (the time limit's last resort, the kernel's OOM killer, or by hand)" 137 ;;
esac
exit "$status"
