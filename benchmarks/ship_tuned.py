"""Ship a per-scenario search's optima as a preset's tuned defaults, one finished scenario at a time.

    .venv/bin/python benchmarks/ship_tuned.py --scenario partial_class \
        --storage journal:runs/tune2/tune/journal.log        # the cpu preset, 24 trials, searched epochs

Reads the storage alone (as ``sure tune --status``): every study of each named scenario must hold its full
budget for today's setup and its incumbent's trial (none short, none stale), else nothing is written and the
short ones are named.
The optima go to ``src/sure_unlearn/tuned/<preset>.json`` under ``scenario_hparams.<scenario>`` (the rest of
the file is kept), then the file is read back the way the preset reads it. Optima on or next to an end of
their range are listed: the results README says which stay and why; so are the studies whose incumbent (the
values the preset ran before) beat every sampled trial.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sure_unlearn.errors import SureError
from sure_unlearn.files import atomic_write_text
from sure_unlearn.protocol.config import resolve
from sure_unlearn.protocol.presets import tuned
from sure_unlearn.tune.options import TuneOptions
from sure_unlearn.tune.status import status

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", required=True, help="comma-separated scenarios whose studies are finished")
    p.add_argument(
        "--storage", required=True, help="the search's storage, e.g. journal:runs/tune2/tune/journal.log"
    )
    p.add_argument("--preset", default="cpu")
    p.add_argument("--trials", type=int, default=24, help="the budget every study must have completed")
    a = p.parse_args()

    base = resolve(a.preset)
    names = [s.strip() for s in a.scenario.split(",") if s.strip()]
    unknown = sorted(set(names) - set(base.scenarios))
    if unknown:
        print(f"unknown scenario(s) {unknown}; the preset has {sorted(base.scenarios)}", file=sys.stderr)
        return 2
    cfg = base.with_overrides(scenarios={s: base.scenarios[s] for s in names})
    opts = TuneOptions(trials=a.trials, storage=a.storage, per_scenario=True, search_epochs=True)
    try:
        found, short = status(cfg, opts)
    except SureError as e:
        print(f"ship_tuned: {e}", file=sys.stderr)
        return 2
    if short:
        print("not shipped, studies short of their budget: " + ", ".join(short), file=sys.stderr)
        return 1

    path = ROOT / "src" / "sure_unlearn" / "tuned" / f"{a.preset}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    per = data.setdefault("scenario_hparams", {})
    for sc in names:
        per[sc] = {m: r["params"] for m, r in found[sc].items()}
        for m, r in found[sc].items():
            if r.get("best_is_incumbent"):
                print(
                    f"{sc}: {m} keeps its incumbent (the values before the search beat its {a.trials} trials)"
                )
            for k, side in r.get("boundary", {}).items():
                print(f"{sc}: {m}.{k} = {r['params'][k]} at its {side} bound")
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    _, shipped = tuned(a.preset, path)  # what the preset will read: every value inside today's space
    print(f"{path.relative_to(ROOT)}: scenario_hparams for {', '.join(sorted(shipped))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
