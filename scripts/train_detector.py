"""Train the replaced-token spin detector: LoRA on all-MiniLM-L6-v2 plus a one-logit word head (see repair/train/train_detector.py; `--help` lists the options)."""
from repair.train.train_detector import main

if __name__ == "__main__":
    main()
