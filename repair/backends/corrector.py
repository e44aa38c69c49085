"""The corrector head on the detector's encoder: for a word, what the author wrote there.

In the manner of GECToR, every word gets a tag: ``KEEP`` (the word is the author's), ``DELETE``
(it is the tail of a longer spun phrase: "got here" -> "came" is replace(came) + delete), or a
word of the target vocabulary, which the head scores as

    score(w) = q · E(w) + r · U(w) + b(w),      (q, r) = MLP(h)

where ``h`` is the encoder's last hidden state at the word's first sub-token, ``E(w)`` the frozen
input embedding of ``w`` in the base encoder (the mean of its word pieces: any word can be scored,
the lexicon's candidates included), and ``U(w)``, ``b(w)`` small learned vectors and biases for the
words seen as targets in training (zero for others). The encoder is the shipped detector's (LoRA
merged, frozen), so the corrector adds one matrix product per word to the detector's pass; or, where
the corrector was trained with its own top layers (``tuned_layers`` in its ``repair.json``,
``layers.safetensors``), the detector's lower layers and the corrector's top ones (the detector's
features say *whether* a word was substituted; what the author wrote needs the top layers retrained).
``repair/train/train_corrector.py`` trains it; the weights are ``models/corrector/``.
"""
from __future__ import annotations

import json
from pathlib import Path

KEEP, DELETE = "<keep>", "<delete>"


def vocab_embeddings(tokenizer, encoder, vocab: list[str]):
    """[V, H] frozen embeddings of the vocabulary: each word's word-piece input embeddings averaged
    (zero for the two tags, whose meaning the learned part carries)."""
    import torch

    table = encoder.get_input_embeddings().weight.detach()
    out = torch.zeros((len(vocab), table.shape[1]))
    for i, w in enumerate(vocab):
        if w in (KEEP, DELETE):
            continue
        ids = tokenizer(w, add_special_tokens=False)["input_ids"]
        if ids:
            out[i] = table[ids].mean(0)
    return out


def make_head(hidden: int, vocab_size: int, embeddings, width: int = 768, free: int = 64):
    import torch

    class CorrectorHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.free = hidden, free
            self.mlp = torch.nn.Sequential(torch.nn.Linear(hidden, width), torch.nn.GELU(), torch.nn.Dropout(0.1),
                                           torch.nn.Linear(width, hidden + free))
            self.register_buffer("embeddings", embeddings.float(), persistent=False)
            self.learned = torch.nn.Parameter(torch.zeros(vocab_size, free))
            self.bias = torch.nn.Parameter(torch.zeros(vocab_size))
            torch.nn.init.normal_(self.learned, std=0.02)

        def forward(self, h, ids=None):
            """[N, H] -> [N, V] logits; with ``ids`` ([K]), those of the K vocabulary entries only."""
            qr = self.mlp(h)
            q, r = qr[:, :self.hidden], qr[:, self.hidden:]
            if ids is None:
                return q @ self.embeddings.T + r @ self.learned.T + self.bias
            return q @ self.embeddings[ids].T + r @ self.learned[ids].T + self.bias[ids]

    return CorrectorHead()


def word_states(encoder, batch, *, with_logits: bool = False, token_bias=None):
    """[B, W, H] the encoder's last hidden state at each word's first sub-token (zeros where a word fell
    past the token limit: ``batch.first < 0``). ``with_logits``: also the detector's [B, W] word logits
    from the same pass (``repair.backends.encoder.word_logits``)."""
    from repair.backends.encoder import gather_word_logits

    out = encoder(**batch.inputs, output_hidden_states=True)
    h = out.hidden_states[-1]
    idx = batch.first.clamp(min=0)[..., None].expand(-1, -1, h.shape[-1])
    states = h.gather(1, idx).masked_fill((batch.first < 0)[..., None], 0.0)
    return (states, gather_word_logits(out.logits[..., 0], batch, token_bias)) if with_logits else states


def top_layers(encoder, n: int):
    """The encoder's top ``n`` transformer layers (a ModuleList the corrector may retrain)."""
    return encoder.bert.encoder.layer[len(encoder.bert.encoder.layer) - n:]


def run_layers(encoder, layers, h, mask):
    """``layers`` (the top of ``encoder``, or a retrained copy of it) over hidden states ``h`` [B, T, H]
    with attention ``mask`` [B, T]: what the encoder computes above the states ``h`` came from."""
    from transformers.masking_utils import create_bidirectional_mask

    att = create_bidirectional_mask(config=encoder.config, inputs_embeds=h, attention_mask=mask)
    for layer in layers:
        h = layer(h, att)
        h = h[0] if isinstance(h, tuple) else h
    return h


def save_corrector(path: Path, head, vocab: list[str], config: dict, layers=None) -> None:
    """The head (and the retrained top ``layers``, if any) in float16, the vocabulary and the config."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    half = lambda module: {k: v.detach().cpu().half().contiguous() for k, v in module.state_dict().items()}
    save_file(half(head), path / "head.safetensors")
    if layers is not None:
        save_file(half(layers), path / "layers.safetensors")
        config = {**config, "tuned_layers": len(layers)}
    elif (path / "layers.safetensors").exists():
        (path / "layers.safetensors").unlink()
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (path / "repair.json").write_text(json.dumps(config, indent=2) + "\n")


def load_corrector(path: Path, device: str = "cpu"):
    """The shipped detector's encoder (frozen, merged; its own copy, with the corrector's top layers
    where it has them) and the corrector head: tokenizer, encoder, head, vocabulary, config."""
    from safetensors.torch import load_file

    from repair.backends.encoder import load_detector
    from repair.backends.resources import model_path

    config = json.loads((path / "repair.json").read_text())
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    tokenizer, encoder, _, _ = load_detector(model_path(config.get("encoder", "detector")), device)
    head = make_head(config["hidden"], len(vocab), vocab_embeddings(tokenizer, encoder, vocab),
                     config["width"], config["free"])
    head.load_state_dict({k: v.float() for k, v in load_file(path / "head.safetensors").items()})
    if config.get("tuned_layers"):  # this copy of the detector's encoder takes the corrector's top layers
        top_layers(encoder, config["tuned_layers"]).load_state_dict(
            {k: v.float() for k, v in load_file(path / "layers.safetensors").items()})
    return tokenizer, encoder, head.to(device).eval(), vocab, config
