"""Train Punkt sentence-boundary parameters on the news corpus and ship them as JSON in models/ (see repair/train/train_punkt.py; `--help` lists the options)."""
from repair.train.train_punkt import main

if __name__ == "__main__":
    main()
