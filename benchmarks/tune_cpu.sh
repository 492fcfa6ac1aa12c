#!/usr/bin/env bash
# The `cpu` preset's per-scenario search on a CPU machine, in sittings that resume (the CPU twin of
# `gpu_shards.sh tune`; results in benchmarks/results/tune-cpu-v2/).
#
#   bash benchmarks/tune_cpu.sh run        # WORKERS (default 2) processes, one thread each, in the background
#   bash benchmarks/tune_cpu.sh status     # every study's trials and best so far (sure tune --status)
#   bash benchmarks/tune_cpu.sh snapshot   # copy the journal and the per-study files into the results
#
# SCENARIOS="partial_class" (default: all four, in that order) narrows any of the three, e.g. to finish one
# scenario before the next; TRIALS (default 24) and WORKERS (default 2) as named.
#
# `run` continues the live journal runs/tune2/tune/journal.log (git-ignored), started from the committed
# one when missing. Worker i takes the preset's methods from its own offset of the list (the two ends of
# it with two workers), scenario by scenario (partial_class, random, full_class, confusion), so workers
# spread over the studies and share the last ones; the journal's budget rule stops them at exactly
# TRIALS complete trials per study, then one of them evaluates the study's incumbent (outside the budget). Every worker passes --restart-changed: a study whose space was
# widened since its trials ran keeps them as NAME~k and starts afresh (the first worker to reach it does
# that, under a lock beside the journal; the others find the new study). Stop with `pkill -INT -f "sure tune"`: a cut trial is recorded as failed and
# run again. Logs: runs/tune_cpu-w<i>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS="${WORKERS:-2}"
TRIALS="${TRIALS:-24}"
SCENARIOS="${SCENARIOS:-partial_class random full_class confusion}"
LIVE=runs/tune2/tune/journal.log
KEPT=benchmarks/results/tune-cpu-v2
SURE=(.venv/bin/sure)
export SURE_DATA="${SURE_DATA:-$(cd .. && pwd)/shared/data}"
FLAGS=(--preset cpu --per-scenario --search-epochs --trials "$TRIALS" --storage "journal:$LIVE" --out runs/tune2)

methods_from() {  # the preset's methods, starting at position $1 of the list
    .venv/bin/python -c "from sure_unlearn.protocol.config import resolve
m = list(resolve('cpu').methods); k = $1 * len(m) // $2
print(','.join(m[k:] + m[:k]))"
}

case "${1:?run, status or snapshot}" in
run)
    mkdir -p "$(dirname "$LIVE")"
    [ -f "$LIVE" ] || cp "$KEPT/journal.log" "$LIVE"
    for ((i = 0; i < WORKERS; i++)); do
        methods=$(methods_from "$i" "$WORKERS")
        (
            for sc in $SCENARIOS; do
                nice "${SURE[@]}" tune "${FLAGS[@]}" --scenario "$sc" --methods "$methods" --eval-seeds none \
                    --threads 1 --no-progress --restart-changed || exit $?
            done
        ) >> "runs/tune_cpu-w$i.log" 2>&1 &
        sleep 2  # workers joining one journal: one at a time
    done
    echo "$WORKERS workers started; logs in runs/tune_cpu-w*.log" ;;
status)
    "${SURE[@]}" tune "${FLAGS[@]}" --scenario "${SCENARIOS// /,}" --status ;;
snapshot)
    # a consistent copy: the journal up to its last complete line, then each study's trials and best
    .venv/bin/python -c "import sys; b = open(sys.argv[1], 'rb').read(); open(sys.argv[2], 'wb').write(b[: b.rfind(b'\n') + 1])" \
        "$LIVE" "$KEPT/journal.log"
    for sc in $SCENARIOS; do
        [ -d "runs/tune2/tune/$sc" ] || continue
        for d in "runs/tune2/tune/$sc"/*/; do
            m=$(basename "$d"); [ -f "$d/trials.csv" ] || continue
            mkdir -p "$KEPT/$sc/$m" && cp "$d"/trials*.csv "$d"/best*.json "$KEPT/$sc/$m"/ 2>/dev/null || true
        done
    done
    "${SURE[@]}" tune "${FLAGS[@]}" --storage "journal:$KEPT/journal.log" --scenario "${SCENARIOS// /,}" \
        --status > "$KEPT/status.md" 2> runs/tune_cpu-status.log
    { echo; tail -n 1 runs/tune_cpu-status.log; } >> "$KEPT/status.md"
    echo "journal, trials and status.md in $KEPT" ;;
*) echo "unknown command $1: run, status or snapshot" >&2; exit 2 ;;
esac
