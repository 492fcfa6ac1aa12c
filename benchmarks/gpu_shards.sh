#!/usr/bin/env bash
# Long `cpu`-preset work as parallel processes on one GPU machine, inside one time budget, resumable across
# leases. MODE is one of
#   attacks   the attacks preset (every method attacked with its tuned values): `sure benchmark --queue`
#   tune      the per-scenario search of every method (`sure tune --per-scenario --search-epochs`), WORKERS
#             processes sharing one journal, each starting on another method; it resumes the committed
#             journal, and writes tuned_hparams.json once every study is complete
#   heldout   the held-out comparison with TUNED's values on SEEDS: `sure benchmark --queue`
#
#   WORKERS=12 BUDGET_S=480 bash benchmarks/gpu_shards.sh MODE [extra flags for every process]
#
# Every finished run and trial is a file, so a process cut by the budget loses only the one it was in; a
# later call given this call's archive back (RESUME) goes on from there (the benchmark modes' workers take
# their runs from one queue, so any WORKERS; tune: the same WORKERS). Writes into
# $OUT (./out without $OUT) only the few files a lease brings back: <MODE>.tgz (the finished work, without
# embedding samples), summary.md and summary.json (merged, benchmark modes), tuned_hparams.json (tune, when
# complete), machine.txt, logs.txt. See benchmarks/gpu_shards.md.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE="${1:?give a mode: attacks, tune or heldout}"; shift
OUT_DIR="${OUT:-out}"
WORK="${WORK:-/tmp/gpu-$MODE}"
WORKERS="${WORKERS:-12}"
BUDGET_S="${BUDGET_S:-480}"    # wall seconds for the workers; merging and packing take a few more
RESUME="${RESUME:-runs/gpu-$MODE.tgz}"
PRESET="${PRESET:-}"
CACHE="${SURE_CACHE:-/tmp/sure-cache}"
PY="${PYTHON:-python3}"
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
sure() { "$PY" -m sure_unlearn.cli "$@"; }

case "$MODE" in
    attacks) PRESET="${PRESET:-attacks}" ;;
    heldout) PRESET="${PRESET:-cpu}"; TUNED="${TUNED:?heldout needs TUNED=<tuned_hparams.json>}"
             SEEDS="${SEEDS:-0,1,2,3,4}" ;;
    tune)    PRESET="${PRESET:-cpu}"; JOURNAL="${JOURNAL:-benchmarks/results/tune-cpu-v2/journal.log}"
             SCENARIOS="${SCENARIOS:-partial_class,random,full_class,confusion}"
             TRIALS="${TRIALS:-24}" ;;
    *) echo "unknown mode $MODE: attacks, tune or heldout" >&2; exit 2 ;;
esac

mkdir -p "$OUT_DIR" "$WORK"
if [ -f "$RESUME" ]; then tar xzf "$RESUME" -C "$WORK"; fi    # work finished by an earlier lease
{
    date -u +%FT%TZ
    echo "cores $(nproc)"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    echo "mode=$MODE preset=$PRESET workers=$WORKERS budget_s=$BUDGET_S extra=$*"
} > "$OUT_DIR/machine.txt"

# --------------------------------------------------------------------------------------------- workers
worker_args() {  # the command line of worker $1
    local i=$1
    case "$MODE" in
        attacks) echo benchmark --preset "$PRESET" --queue "$WORK/queue" --out "$WORK/shard$i" ;;
        heldout) echo benchmark --preset "$PRESET" --config "$TUNED" --seeds "$SEEDS" --queue "$WORK/queue" \
                      --out "$WORK/shard$i" ;;
        tune)    local methods; methods=$(rotated "$i")
                 echo tune --preset "$PRESET" --scenario "$SCENARIOS" --per-scenario --search-epochs \
                      --trials "$TRIALS" --methods "$methods" --out "$WORK/tune" \
                      --storage "journal:$WORK/tune/journal.log" --eval-seeds none --restart-changed ;;
    esac
}
rotated() {  # every method of the preset (METHODS, resolved once), starting at worker $1's share of the list
    local k=$(( $1 * ${#METHODS[@]} / WORKERS ))
    local IFS=,
    echo "${METHODS[*]:k},${METHODS[*]:0:k}" | sed 's/,$//'
}
complete_studies() {  # "all N studies complete …" when every (scenario, method) study has its trials
    sure tune --preset "$PRESET" --scenario "$SCENARIOS" --per-scenario --search-epochs --trials "$TRIALS" \
        --storage "journal:$WORK/tune/journal.log" --out "$WORK/tune" --status 2>&1 >/dev/null | tail -n 1
}
if [ "$MODE" = tune ]; then
    IFS=, read -r -a METHODS < <("$PY" -c "from sure_unlearn.protocol.config import resolve; \
print(','.join(resolve('$PRESET').methods))")
    if [ ! -f "$WORK/tune/journal.log" ]; then
        mkdir -p "$WORK/tune" && { [ ! -f "$JOURNAL" ] || cp "$JOURNAL" "$WORK/tune/journal.log"; }
    fi
fi

if [ "$MODE" != tune ]; then
    # runs an earlier lease left unfinished are free again (its claims name another host, which a queue trusts)
    "$PY" -m sure_unlearn.protocol.claims "$WORK/queue"
fi
start=$(date +%s)
pids=()
for ((i = 0; i < WORKERS; i++)); do
    # shellcheck disable=SC2046
    timeout --signal=INT "$BUDGET_S" "$PY" -m sure_unlearn.cli $(worker_args "$i") \
        --threads 1 --no-progress --cache-dir "$CACHE" "$@" >> "$WORK/worker$i.log" 2>&1 &   # timeout needs a program
    pids+=($!)
    [ "$MODE" = tune ] && sleep 1    # workers joining one journal: one at a time
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"; rc=$?
    # 124: cut by the budget (finished work is kept); anything else non-zero is a real failure
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then echo "worker $i exited $rc (see logs.txt)"; failed=1; fi
done
echo "workers: $(( $(date +%s) - start )) s of $BUDGET_S s" | tee -a "$OUT_DIR/machine.txt"

# ------------------------------------------------------------------------------------------- collect
if [ "$MODE" = tune ]; then
    # once every study has its trials, the same command only collects them into tuned_hparams.json
    if complete_studies | tee -a "$OUT_DIR/machine.txt" | grep -q "^all [0-9]* stud[a-z]* complete"; then
        # shellcheck disable=SC2046
        sure $(WORKERS=1 worker_args 0) --threads 1 --no-progress --cache-dir "$CACHE" "$@" \
            > "$WORK/collect.log" 2>&1 && cp "$WORK/tune/tuned_hparams.json" "$OUT_DIR"/
    fi
    grep -h "trial [0-9]*:" "$WORK"/worker*.log | wc -l | xargs echo "trials finished in this call:" \
        | tee -a "$OUT_DIR/machine.txt"
    parts=(tune)
else
    find "$WORK"/shard* -name run.json | wc -l | xargs echo "finished runs:" | tee -a "$OUT_DIR/machine.txt"
    dirs=()
    for ((i = 0; i < WORKERS; i++)); do [ -f "$WORK/shard$i/summary.json" ] && dirs+=("$WORK/shard$i"); done
    if [ "${#dirs[@]}" -gt 0 ]; then
        rm -rf "$WORK/merged"
        sure report "${dirs[@]}" --out "$WORK/merged" > "$WORK/collect.log" 2>&1 \
            || { echo "merge failed (see logs.txt)"; failed=1; }
        cp "$WORK/merged/summary.md" "$WORK/merged/summary.json" "$OUT_DIR"/ 2>/dev/null
    fi
    mapfile -t parts < <(cd "$WORK" && ls -d shard*/ merged/ queue/ 2>/dev/null)
fi
tar czf "$OUT_DIR/$MODE.tgz" -C "$WORK" --exclude=embed.npz --exclude=features.npz "${parts[@]}"
for f in "$WORK"/worker*.log "$WORK/collect.log"; do
    [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }
done > "$OUT_DIR/logs.txt"
exit $failed
