#!/usr/bin/env bash
# The `cpu` preset's held-out comparison on a CPU machine, one scenario at a time (the results live in
# benchmarks/results/cpu-heldout-v2/; the CPU twin of `gpu_shards.sh heldout`). PRESET=attacks runs the
# `attacks` preset the same way instead (every method attacked with its tuned values; partial_class and
# random, seeds 0–2), in runs/attacks2/ and benchmarks/results/attacks-v2/ (the twin of `gpu_shards.sh attacks`).
#
#   bash benchmarks/heldout_cpu.sh run random     # SHARDS (default 2) processes, one thread each, in the background
#   bash benchmarks/heldout_cpu.sh merge [DIR...]  # the committed results, DIR..., every shard → one summary, copied into the results
#
# `run` uses the scenario's seeds: 0–4, and 0–2 for confusion and the attacks preset (SEEDS="0,1" overrides).
# The processes take the runs from one queue (`sure benchmark --queue`, in runs/heldout2/<scenario>/queue):
# each runs the next run no other has claimed, so both cores stay busy to the end however unequal the
# methods' costs. `run` first drops the claims of runs left unfinished by earlier processes (the host name
# may have changed since), so start it only while no process of the scenario is running.
# Each shard writes runs/heldout2/<scenario>/shard<i> (git-ignored) and skips the runs it already holds with the same
# hyperparameters, so a cut run resumes, and after new tuned values only the changed methods run again. It
# starts from a copy of the scenario's committed runs: those measured against the same reference models
# (retrained where the model cache is gone: same seeds, same weights digest) are not run again.
# Run it once the scenario's tuned values are shipped (benchmarks/ship_tuned.py), with the tuning workers
# stopped or beside it (both slow down). Logs: runs/heldout2/<scenario>/shard<i>.log. Stop with
# `pkill -f "sure benchmark"` (SIGTERM: finished runs are kept; the shell has background shards ignore SIGINT).
#
# `merge` merges the committed results (benchmarks/results/cpu-heldout-v2, when present), then any DIR,
# then every shard directory under runs/heldout2/, with `sure report --replace` into runs/heldout2/all: a run
# held by several is taken from the last, so re-run shards replace their committed copies and every
# other committed run is kept. It then copies the merge into the results without the per-run embeddings and
# splits (they are large and rebuilt from the cache), and writes digest.md (benchmarks/heldout_digest.py) and,
# for PRESET=attacks, attacks.md (benchmarks/attacks_digest.py) and shadow_trim.md (benchmarks/shadow_trim.py:
# the attacks recomputed from the saved statistics with 4 of the 6 shadows).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS="${SHARDS:-2}"
PRESET="${PRESET:-cpu}"
case "$PRESET" in
    cpu) ROOT=runs/heldout2 KEPT=benchmarks/results/cpu-heldout-v2 ;;
    attacks) ROOT=runs/attacks2 KEPT=benchmarks/results/attacks-v2 ;;
    *) echo "unknown PRESET $PRESET: cpu or attacks" >&2; exit 2 ;;
esac
SURE=(.venv/bin/sure)
export SURE_DATA="${SURE_DATA:-$(cd .. && pwd)/shared/data}"

case "${1:?run SCENARIO, or merge}" in
run)
    sc="${2:?which scenario: partial_class, random, full_class or confusion}"
    case "$sc" in partial_class | random | full_class | confusion) ;;
        *) echo "unknown scenario $sc: partial_class, random, full_class or confusion" >&2; exit 2 ;;
    esac
    seeds="${SEEDS:-$([ "$sc" = confusion ] || [ "$PRESET" = attacks ] && echo 0,1,2 || echo 0,1,2,3,4)}"
    mkdir -p "$ROOT/$sc"
    .venv/bin/python -m sure_unlearn.protocol.claims "$ROOT/$sc/queue"
    for ((i = 0; i < SHARDS; i++)); do
        # the committed runs of this scenario go into every shard first (never over the shard's own): a shard
        # skips a run it holds that was measured against the same reference models, so work committed on
        # another machine, or before the git-ignored runs/ and model cache were lost, is not done again
        if [ -d "$KEPT/$sc" ]; then
            mkdir -p "$ROOT/$sc/shard$i"
            tar -C "$KEPT" -cf - "$sc" | tar -C "$ROOT/$sc/shard$i" -xf - --skip-old-files
        fi
        nice "${SURE[@]}" benchmark --preset "$PRESET" --seeds "$seeds" --scenario "$sc" --queue "$ROOT/$sc/queue" \
            --threads 1 --no-progress --out "$ROOT/$sc/shard$i" > "$ROOT/$sc/shard$i.log" 2>&1 &
        sleep 5  # shards of one cache: one at a time through the lock on the first shared model
    done
    echo "$SHARDS shards of $sc (seeds $seeds) started; logs in $ROOT/$sc/shard*.log" ;;
merge)
    mapfile -t dirs < <(find "$ROOT" -mindepth 2 -maxdepth 2 -type d -name 'shard*' | sort)
    [ "${#dirs[@]}" -gt 0 ] || { echo "nothing under $ROOT to merge: run a scenario first" >&2; exit 2; }
    kept=()
    [ -f "$KEPT/summary.json" ] && kept=("$KEPT")
    rm -rf "$ROOT/all"
    "${SURE[@]}" report "${kept[@]}" "${@:2}" "${dirs[@]}" --replace --out "$ROOT/all" > "$ROOT/report.log"
    mkdir -p "$KEPT"
    (cd "$ROOT/all" && find . -type f ! -name embed.npz ! -name split.npz -print0 | xargs -0 -I{} cp --parents {} "$OLDPWD/$KEPT/")
    .venv/bin/python benchmarks/heldout_digest.py "$KEPT/summary.json" > "$KEPT/digest.md"
    if [ "$PRESET" = attacks ]; then
        .venv/bin/python benchmarks/attacks_digest.py "$KEPT/summary.json" > "$KEPT/attacks.md"
        .venv/bin/python benchmarks/shadow_trim.py "$KEPT" > "$KEPT/shadow_trim.md"
    fi
    echo "merged ${#dirs[@]} shard directories into $KEPT (summary.json, summary.md, digest.md)" ;;
*) echo "unknown command $1: run SCENARIO, or merge [DIR...]" >&2; exit 2 ;;
esac
