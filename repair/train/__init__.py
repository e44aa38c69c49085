"""The training, tuning, calibration and evaluation behind ``scripts/`` (each script is a thin wrapper
that runs one of these modules' ``main``) and the ``make`` targets. They read ``../shared`` (the corpus,
the thesauri, devbench) and are meant to be run from a checkout; the library never imports them.

``corpus`` (the news corpus, streamed), ``make_data`` (spun/clean training pairs), ``build_lexicon``,
``train_punkt``, ``train_detector``, ``calibrate_context``, ``train_restorer``, ``tune_restorer`` (the
restorer's operating point), ``evaluate`` (``make eval``), ``bench`` (``make bench``); ``common``: what
the training scripts share (shards, batches, checkpoints, logistic fits).
"""
