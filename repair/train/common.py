"""Shared by the training scripts: reading the shards of ``make_data.py`` (records, an endless shuffled
batch stream), the optimizer and schedule, and resumable checkpoints."""
from __future__ import annotations

import gzip
import json
import random
import warnings
from pathlib import Path

# peft calls a transformers property that transformers marks deprecated; nothing for a user to act on
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def records(data: Path, split: str):
    """Every record of one split (``train`` or ``val``), shard by shard."""
    shards = sorted(Path(data).glob(f"{split}-*.jsonl.gz"))
    if not shards:
        raise SystemExit(f"no {split} shards in {data} (run scripts/make_data.py first)")
    for shard in shards:
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


def train_batches(data: Path, batch: int, seed: int, key=lambda r: len(r["spun"]), keep=None, buffer: int = 8192):
    """Endless, deterministic stream of batches of records: a shuffle buffer, then groups of 16
    batches sorted by ``key`` (less padding), the groups' batches in random order. ``keep`` filters."""
    rng = random.Random(seed)
    while True:
        pool = []
        for rec in records(data, "train"):
            if keep is not None and not keep(rec):
                continue
            pool.append(rec)
            if len(pool) >= buffer:
                yield from _group(pool, batch, rng, key)
                pool = []
        yield from _group(pool, batch, rng, key)


def _group(pool, batch, rng, key):
    rng.shuffle(pool)
    for g in range(0, len(pool), batch * 16):
        group = sorted(pool[g:g + batch * 16], key=key)
        chunks = [group[i:i + batch] for i in range(0, len(group), batch)]
        rng.shuffle(chunks)
        yield from chunks


def optimizer(params, lr: float, warmup: int, steps: int, weight_decay: float = 0.0):
    """AdamW with linear warm-up and a cosine decay to a tenth of ``lr`` at ``steps``."""
    import math

    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * max(
        0.1, 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    return opt, sched


class Checkpoint:
    """The LoRA weights, optimizer, schedule, step and eval history in one file, replaced atomically."""

    def __init__(self, path: Path, model, opt, sched):
        self.path, self.model, self.opt, self.sched = Path(path), model, opt, sched

    def load(self, device: str) -> tuple[int, list]:
        """Restore the state if the file exists; returns (step, history)."""
        import torch
        from peft import set_peft_model_state_dict

        if not self.path.exists():
            return 0, []
        state = torch.load(self.path, map_location=device)
        set_peft_model_state_dict(self.model, state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        print(f"resumed from {self.path} at step {state['step']}", flush=True)
        return state["step"], state["history"]

    def save(self, step: int, history: list, **extra) -> None:
        import os

        import torch
        from peft import get_peft_model_state_dict

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({"model": get_peft_model_state_dict(self.model), "opt": self.opt.state_dict(),
                    "sched": self.sched.state_dict(), "step": step, "history": history, **extra}, tmp)
        os.replace(tmp, self.path)


def training_args(description: str, name: str, *, steps: int, batch: int, warmup: int, save_every: int,
                  val_size: int):
    """The options every training script takes; each script adds its own."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", type=Path, default=Path("data/spin"))
    ap.add_argument("--out", type=Path, default=Path("runs") / name, help="checkpoint directory")
    ap.add_argument("--export", type=Path, default=Path("models") / name)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--minutes", type=float, default=None, help="stop (and export) after this much training time")
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--save-every", type=int, default=save_every)
    ap.add_argument("--val-size", type=int, default=val_size)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--export-only", action="store_true", help="export the last checkpoint, no training")
    return ap


def fit_logistic(x, y, prior: float | None = 0.5, init=None):
    """Weighted logistic regression ``p = sigmoid(x @ w[:-1] + w[-1])`` by L-BFGS (``x``: n × k tensor,
    ``y``: n labels 0/1). ``prior``: weight the two classes as if the share of positives were this
    (None: as they come), so that a score means the same whatever the held-out mixture. Returns the
    weights (bias last) and the per-example weights used."""
    import torch

    x, y = x.to(torch.float64), y.to(torch.float64)
    share = float(y.mean())
    weight = torch.ones_like(y) if prior is None else torch.where(y > 0, prior / share, (1 - prior) / (1 - share))
    xb = torch.cat([x, torch.ones_like(y)[:, None]], 1)
    w = (torch.zeros(xb.shape[1], dtype=torch.float64) if init is None
         else torch.tensor(init, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xb @ w, y, weight=weight)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), weight


def reliability_table(prob, y, weight) -> list[dict]:
    """Per tenth of the score: how many examples, their mean score and the (weighted) share positive."""
    table = []
    for lo in [i / 10 for i in range(10)]:
        m = (prob >= lo) & (prob < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if m.any():
            table.append({"bin": f"{lo:.1f}-{lo + 0.1:.1f}", "n": int(m.sum()),
                          "mean_score": round(float(prob[m].mean()), 3),
                          "spun_share": round(float((weight[m] * y[m]).sum() / weight[m].sum()), 3)})
    return table


def resume(model, args, weight_decay: float):
    """The trainable parameters, AdamW and its schedule, the checkpoint in ``args.out`` and the step and
    eval history it holds (0 and [] when there is none)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = optimizer(params, args.lr, args.warmup, args.steps, weight_decay=weight_decay)
    checkpoint = Checkpoint(Path(args.out) / "ckpt.pt", model, opt, sched)
    step, history = checkpoint.load(args.device)
    return params, opt, sched, checkpoint, step, history


def fit(model, params, opt, sched, checkpoint, step: int, history: list, stream, loss_of, evaluate, args,
        log_every: int = 20, rate_digits: int = 1) -> int:
    """The training loop the trainers share, until ``args.steps`` or ``args.minutes``: one batch of
    ``stream`` at a time (``loss_of(batch)``), gradient clipping, logging, ``evaluate()`` every
    ``args.eval_every`` steps (into ``history``), a checkpoint every ``args.save_every`` and at the end.
    A resumed run first skips the batches it has seen, so the data order is unchanged. Returns the step."""
    import time

    import torch

    model.train()
    for _ in range(step):
        next(stream)
    t0, seen = time.time(), 0
    while step < args.steps:
        batch = next(stream)
        loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        seen += len(batch)
        if step % log_every == 0:
            rate = seen / (time.time() - t0)
            print(f"step {step} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e} {rate:.{rate_digits}f} sent/s",
                  flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            metrics = evaluate()
            history.append({"step": step, **metrics})
            print(f"eval step {step}: {metrics}", flush=True)
        if step % args.save_every == 0:
            checkpoint.save(step, history)
        if args.minutes and time.time() - t0 > args.minutes * 60:
            print(f"time budget reached at step {step}", flush=True)
            break
    checkpoint.save(step, history)
    return step
