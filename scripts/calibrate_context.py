"""Fit how a sentence's spin score weighs its article's (the detector's context calibration) (see repair/train/calibrate_context.py; `--help` lists the options)."""
from repair.train.calibrate_context import main

if __name__ == "__main__":
    main()
