#!/usr/bin/env bash
# The attacks preset (every method attacked with its tuned values: U-LiRA, RMIA, their representation
# analogues, the ε-score) as N shards side by side on one GPU machine, inside one time budget.
#
#   SHARDS=12 BUDGET_S=540 bash benchmarks/gpu_attacks.sh [extra `sure benchmark` flags]
#
# Every finished (scenario, seed, method) run is a file, so a shard cut short by the budget loses only the
# run it was in; a later call given the archive back (RESUME) continues where this one stopped, with the same
# SHARDS. The shards share one model cache, so each (scenario, seed)'s shadows and retrained models are
# trained once per machine.
# Writes into $OUT (./out without $OUT), as few files as a GPU lease brings back: gpu-attacks.tgz (every
# shard's finished runs without their embedding samples, and the merged summary with its plots),
# summary.md and summary.json (merged), machine.txt, logs.txt. See benchmarks/gpu_attacks.md.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT_DIR="${OUT:-out}"
WORK="${WORK:-/tmp/gpu-attacks}"
PRESET="${PRESET:-attacks}"
SHARDS="${SHARDS:-12}"
BUDGET_S="${BUDGET_S:-540}"      # wall seconds for the shards; the merge after it takes a few seconds
RESUME="${RESUME:-runs/gpu-attacks.tgz}"
CACHE="${SURE_CACHE:-/tmp/sure-cache}"
PY="${PYTHON:-python3}"
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

mkdir -p "$OUT_DIR" "$WORK"
if [ -f "$RESUME" ]; then tar xzf "$RESUME" -C "$WORK"; fi    # runs finished by an earlier lease
{
    date -u +%FT%TZ
    nproc
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    echo "preset=$PRESET shards=$SHARDS budget_s=$BUDGET_S extra=$*"
} > "$OUT_DIR/machine.txt"

start=$(date +%s)
pids=()
for ((i = 0; i < SHARDS; i++)); do
    timeout --signal=INT "$BUDGET_S" "$PY" -m sure_unlearn.cli benchmark --preset "$PRESET" --shard "$i/$SHARDS" \
        --threads 1 --no-progress --cache-dir "$CACHE" --out "$WORK/shard$i" "$@" \
        >> "$WORK/shard$i.log" 2>&1 &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"; rc=$?
    # 124: cut by the budget (finished runs are kept); anything else non-zero is a real failure
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then echo "shard $i exited $rc (see logs.txt)"; failed=1; fi
done
echo "shards: $(( $(date +%s) - start )) s of $BUDGET_S s" | tee -a "$OUT_DIR/machine.txt"
find "$WORK"/shard* -name run.json | wc -l | xargs echo "finished runs:" | tee -a "$OUT_DIR/machine.txt"

# one summary over every shard's finished runs (a later lease re-merges with its own)
dirs=()
for ((i = 0; i < SHARDS; i++)); do [ -f "$WORK/shard$i/summary.json" ] && dirs+=("$WORK/shard$i"); done
if [ "${#dirs[@]}" -gt 0 ]; then
    rm -rf "$WORK/merged"
    "$PY" -m sure_unlearn.cli report "${dirs[@]}" --out "$WORK/merged" > "$WORK/merge.log" 2>&1 \
        || { echo "merge failed (see logs.txt)"; failed=1; }
    cp "$WORK/merged/summary.md" "$WORK/merged/summary.json" "$OUT_DIR"/ 2>/dev/null
fi
tar czf "$OUT_DIR/gpu-attacks.tgz" -C "$WORK" --exclude=embed.npz --exclude=features.npz \
    $(cd "$WORK" && ls -d shard* merged 2>/dev/null)
for f in "$WORK"/shard*.log "$WORK/merge.log"; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done > "$OUT_DIR/logs.txt"
exit $failed
