"""Where a benchmark's gold edits are lost in the default fix, stage by stage, per spinner (see repair/train/funnel.py; `--help` lists the options)."""
from repair.train.funnel import main

if __name__ == "__main__":
    main()
