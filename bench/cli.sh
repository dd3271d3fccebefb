#!/usr/bin/env bash
# Start-up benchmark of the `platform` client.
#
# Prints the median wall time of:
#   1. `python -c pass` with the interpreter that runs `platform` (the floor),
#   2. `platform --version` (target: at most 2x the floor),
#   3. `platform variable:list` with an already cached access token (needs a server),
# and the ratios of 2 and 3 to 1. Uses hyperfine when installed, else a Python timer.
#
# Usage: bench/cli.sh [-p PROJECT] [-e ENVIRONMENT]
#
# Environment:
#   PLATFORMSH_CLI_API_URL  server for `variable:list`; that measurement is skipped if unset
#   PLATFORMSH_CLI_TOKEN    API token for that server (exchanged once, then cached)
#   BENCH_PROJECT           default for -p (else PLATFORM_PROJECT)
#   BENCH_ENVIRONMENT       default for -e (else PLATFORM_BRANCH)
#   BENCH_RUNS              runs per measurement (default 20)
#   PLATFORM_BIN            the client to time (default .venv/bin/platform, else `platform`)
#
# It never fails the build: problems are reported and the script exits 0.
set -u

cd "$(dirname "$0")/.." || exit 0

project="${BENCH_PROJECT:-${PLATFORM_PROJECT:-}}"
environment="${BENCH_ENVIRONMENT:-${PLATFORM_BRANCH:-}}"
while getopts "p:e:" opt; do
    case "$opt" in
        p) project="$OPTARG" ;;
        e) environment="$OPTARG" ;;
        *) echo "usage: $0 [-p PROJECT] [-e ENVIRONMENT]" >&2; exit 0 ;;
    esac
done
runs="${BENCH_RUNS:-20}"

bin="${PLATFORM_BIN:-}"
if [ -z "$bin" ]; then
    if [ -x .venv/bin/platform ]; then bin=.venv/bin/platform; else bin="$(command -v platform || true)"; fi
fi
if [ -z "$bin" ] || [ ! -e "$bin" ]; then
    echo "bench/cli.sh: no platform executable found (run make setup); skipping" >&2
    exit 0
fi
# The interpreter from the script's shebang, so the floor uses the same Python.
python="$(head -n1 "$bin" | sed -n 's/^#!\s*//p' | awk '{print $1}')"
[ -x "$python" ] || python="$(command -v python3)"

# A private CLI home keeps the benchmark's token cache away from the user's.
bench_home="$(mktemp -d)"
trap 'rm -rf "$bench_home"' EXIT
export PLATFORMSH_CLI_HOME="$bench_home"

names=("python -c pass" "platform --version")
commands=("$python -c pass" "$bin --version")
if [ -n "${PLATFORMSH_CLI_API_URL:-}" ] && [ -n "$project" ] && [ -n "$environment" ]; then
    # Warm the access-token cache so the timed runs measure a cached-token call.
    if "$bin" auth:token -W >/dev/null 2>&1; then
        names+=("platform variable:list")
        commands+=("$bin variable:list -p $project -e $environment --format plain --no-interaction")
    else
        echo "bench/cli.sh: could not get an access token from $PLATFORMSH_CLI_API_URL; skipping variable:list" >&2
    fi
else
    echo "bench/cli.sh: set PLATFORMSH_CLI_API_URL and a project/environment to time variable:list" >&2
fi

results="$bench_home/results.json"
if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$results" "${commands[@]}" >/dev/null 2>&1 \
        || echo "bench/cli.sh: hyperfine failed; falling back to the Python timer" >&2
fi

"$python" - "$results" "$runs" "${#names[@]}" "${names[@]}" "${commands[@]}" <<'PY' || true
"""Print medians (hyperfine's JSON when present, else timed runs) and ratios."""
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

results_path, runs, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = sys.argv[4 : 4 + count]
commands = sys.argv[4 + count : 4 + 2 * count]

medians = []
if os.path.exists(results_path):
    with open(results_path) as fh:
        medians = [r["median"] for r in json.load(fh)["results"]]
else:
    for command in commands:
        argv = shlex.split(command)
        for _ in range(3):
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(f"warning: {command!r} exited with {done.returncode}", file=sys.stderr)
                break
        medians.append(statistics.median(times))

floor = medians[0]
for name, median in zip(names, medians):
    print(f"{name:<26} {median * 1000:8.1f} ms  ({median / floor:4.2f}x python -c pass)")
version_ratio = medians[1] / floor
verdict = "OK" if version_ratio <= 2.0 else "SLOWER THAN TARGET"
print(f"platform --version / python -c pass = {version_ratio:.2f} (target <= 2.00): {verdict}")
PY
exit 0
