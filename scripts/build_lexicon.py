"""Build the spin lexicon: for a spun word or phrase, the words it may have replaced (see repair/train/build_lexicon.py; `--help` lists the options)."""
from repair.train.build_lexicon import main

if __name__ == "__main__":
    main()
