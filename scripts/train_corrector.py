"""Train the corrector head on the detector's encoder (see repair/train/train_corrector.py; `--help` lists the options)."""
from repair.train.train_corrector import main

if __name__ == "__main__":
    main()
