"""A bare Keras process: import TF, load the data, run N fits in a loop. No sweeper, no Optuna."""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
from _fits import fit_once, load_data  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--fits", type=int, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()
data = load_data()
for number in range(args.fits):
    fit_once(data, args.out / f"{os.getpid()}-{number}", args.epochs)
