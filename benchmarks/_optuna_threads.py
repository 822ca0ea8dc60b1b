"""What users write today: one process, Optuna's thread-based study.optimize(n_jobs=N)."""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
import optuna  # noqa: E402
from _fits import fit_once, load_data  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--trials", type=int, required=True)
parser.add_argument("--jobs", type=int, default=2)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()
optuna.logging.set_verbosity(optuna.logging.WARNING)
data = load_data()
study = optuna.create_study(direction="maximize")
study.optimize(
    lambda trial: fit_once(data, args.out / str(trial.number), args.epochs, clear_session=False),
    n_trials=args.trials,
    n_jobs=args.jobs,
)
