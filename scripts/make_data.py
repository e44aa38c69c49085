"""Make spun/clean training pairs from the news corpus (see repair/train/make_data.py; `--help` lists the options)."""
from repair.train.make_data import main

if __name__ == "__main__":
    main()
