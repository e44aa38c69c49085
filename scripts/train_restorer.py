"""Train the restorer: LoRA on SmolLM2-135M, spun sentence in, original sentence out (see repair/train/train_restorer.py; `--help` lists the options)."""
from repair.train.train_restorer import main

if __name__ == "__main__":
    main()
