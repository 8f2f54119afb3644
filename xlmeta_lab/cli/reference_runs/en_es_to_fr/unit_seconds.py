"""Wall time of one (condition, seed) of notebook 03's full protocol, for timing two versions of the code side by side.

A full reference run takes hours, so its before/after ratio is measured on its unit of work instead: one trained
condition's budget search and its rows on both French test sets, from an empty protocol cache, on one thread. The
script only calls functions whose signatures have not changed since before length buckets and workers (commit
69f7034), so the same file times an old clone and today's code: put the clone first on ``PYTHONPATH`` and run the
file by its path. Started at the same moment on the two cores of one machine, the two runs share its load, so their
ratio holds where absolute times do not.

Run (about 4 to 8 minutes each; checkpoints of a full run, copied so neither version writes into the other's)::

    cp -r checkpoints/03_en_es_to_fr-full-seed0 /tmp/old && cp -r checkpoints/03_en_es_to_fr-full-seed0 /tmp/new
    PYTHONPATH=../old-clone python xlmeta_lab/cli/reference_runs/en_es_to_fr/unit_seconds.py /tmp/old maml old.json &
    PYTHONPATH=. python xlmeta_lab/cli/reference_runs/en_es_to_fr/unit_seconds.py /tmp/new maml new.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import xlmeta_lab
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.results import git_commit, processor
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.udpos import ud_setup
from xlmeta_lab.teaching.profiles import profile_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, help="a copy of a full run's checkpoint folder (<method>-seed0)")
    parser.add_argument("method", help="the trained condition to time, e.g. maml")
    parser.add_argument("out", type=Path, help="JSON file for the measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    setup = ud_setup(profile_settings("03_en_es_to_fr", "full"), seed=0)
    start = time.perf_counter()
    trained = train_conditions(
        setup.training, setup.train_config, [args.method], [args.seed], scratch=False, out_dir=args.checkpoints
    )
    loaded = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        result = run_protocol(trained.conditions, setup.splits, trained.encoder, setup.protocol, cache=cache)
        seconds = time.perf_counter() - start
    package = Path(xlmeta_lab.__file__).resolve().parent
    record = {
        "what": f"notebook 03 full protocol, one (condition, seed): {args.method} seed {args.seed}, "
        "budget search and rows on every test set, empty cache, 1 thread",
        "seconds": round(seconds, 1),
        "seconds_loading_or_training": round(loaded, 1),
        "rows": len(result.rows),
        "mean_accuracy": sum(row["accuracy"] for row in result.rows) / len(result.rows),
        "budgets": {name: [b.lr, b.steps] for name, b in result.budgets.items()},
        "code": str(package.parent),
        "commit": git_commit(package)["commit"],  # the clone the package was imported from: the version timed
        "processor": processor(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
