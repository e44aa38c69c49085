"""Speed and memory of `repair`: cold start (empty model cache), warm start, and throughput (see repair/train/bench.py; `--help` lists the options)."""
from repair.train.bench import main

if __name__ == "__main__":
    main()
