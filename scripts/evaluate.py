"""Score detectors and restorers side by side on a benchmark in the format of devbench.jsonl (see repair/train/evaluate.py; `--help` lists the options)."""
from repair.train.evaluate import main

if __name__ == "__main__":
    main()
