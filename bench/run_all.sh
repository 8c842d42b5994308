#!/bin/sh
# Every benchmark in one run, each printed after its command and the load average, so that
# bench/RESULTS.md can be rewritten from one log:  bench/run_all.sh [NAME ...] | tee bench.log
# NAME is a benchmark's short name (floor workers latency tally outbox web mix broadcast draw);
# default: all, in this order. Run on a quiet machine: the figures are compared within a run.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH=.

command_for() {
    case "$1" in
        tally) echo "bench/bench_tally.py --pabutools-add1-timeout 120 ${PABULIB_FILES:-}" ;;
        floor) echo "bench/bench_floor.py --people 30 --rounds 3" ;;
        workers) echo "bench/bench_workers.py --citizens 40" ;;
        latency) echo "bench/bench_latency.py" ;;
        outbox) echo "bench/bench_outbox.py --people 20000 --stages 10 --sample 8000" ;;
        web) echo "bench/bench_web.py" ;;
        mix) echo "bench/bench_mix.py --ballots 10000,50000,156390" ;;
        broadcast) echo "bench/bench_broadcast.py" ;;
        draw) echo "bench/bench_draw.py" ;;
        *) echo "" ;;
    esac
}

[ $# -gt 0 ] || set -- floor workers latency tally outbox web mix broadcast draw
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $($PY --version), commit $(git rev-parse --short HEAD)"
for name in "$@"; do
    args=$(command_for "$name")
    if [ -z "$args" ]; then
        echo "unknown benchmark: $name" >&2
        exit 2
    fi
    echo
    echo "## $name"
    echo "\$ PYTHONPATH=. $PY $args"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    start=$(date +%s)
    # shellcheck disable=SC2086
    $PY $args 2>&1
    echo "($(($(date +%s) - start)) s)"
done
