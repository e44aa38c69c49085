"""Choose the restorer's operating point on held-out training articles (never on devbench) (see repair/train/tune_restorer.py; `--help` lists the options)."""
from repair.train.tune_restorer import main

if __name__ == "__main__":
    main()
