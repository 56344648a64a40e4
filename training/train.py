"""Train one network on the cached UTKFace crops, with checkpoints, resume and early stopping.

    python -m training.train --design multitask --init ../shared/pretrained/mobilefacenet/mobilefacenet.pt

Designs: multitask (one trunk, two heads), multitask_g2a (the age head also sees P(female)),
age and gender (the two networks of the single-task pair). Runs go to runs/DESIGN/; running the same
command again resumes from runs/DESIGN/last.pt. Without --init the trunk starts from random weights.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.augment import augment
from training.crops import CACHE_DIR, load_cache
from training.networks import MultiTaskNet, SingleTaskNet, load_pretrained
from training.onnx_export import training_commit
from training.recipe import age_loss, expected_age, gender_loss, to_tensor
from training.utkface import ROOT, parse_name, read_split

DESIGNS = ("multitask", "multitask_g2a", "age", "gender")
RUNS_DIR = ROOT / "runs"


@dataclass
class Config:
    design: str
    init: str | None = None
    epochs: int = 12
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    patience: int = 3
    seed: int = 0
    max_minutes: float = 60.0
    limit: int = 0  # use only this many training and validation images (smoke runs)
    max_steps: int = 0  # stop after this many optimizer steps (to give designs identical training)
    checkpoint_minutes: float = 5.0


def build_model(design: str) -> torch.nn.Module:
    if design == "multitask":
        return MultiTaskNet()
    if design == "multitask_g2a":
        return MultiTaskNet(gender_to_age=True)
    return SingleTaskNet(design)


def outputs(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(age_logits, gender_logit), None for what the model does not predict."""
    out = model(x.contiguous(memory_format=torch.channels_last))  # ~30% faster on CPU than NCHW
    if isinstance(out, tuple):
        return out
    return (out, None) if model.task == "age" else (None, out)


def loss_of(age_logits, gender_logit, ages, genders) -> torch.Tensor:
    loss = torch.zeros(())
    if age_logits is not None:
        loss = loss + age_loss(age_logits, ages)
    if gender_logit is not None:
        loss = loss + gender_loss(gender_logit, genders)
    return loss


class Data:
    """Crops and labels of one split, held in memory as uint8."""

    def __init__(self, names: list[str], crops: np.ndarray, index: dict) -> None:
        position = {name: i for i, name in enumerate(index["names"])}
        rows = np.array([position[n] for n in names])
        self.crops = np.ascontiguousarray(crops[rows])
        samples = [parse_name(n) for n in names]
        self.ages = torch.tensor([s.age for s in samples])
        self.genders = torch.tensor([s.gender for s in samples])

    def __len__(self) -> int:
        return len(self.ages)


def evaluate(model: torch.nn.Module, data: Data, batch: int = 256) -> dict:
    model.eval()
    total, age_error, gender_right = 0.0, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch):
            sl = slice(start, start + batch)
            age_logits, gender_logit = outputs(model, to_tensor(data.crops[sl]))
            total += float(loss_of(age_logits, gender_logit, data.ages[sl], data.genders[sl])) * len(data.ages[sl])
            if age_logits is not None:
                age_error += float((expected_age(age_logits) - data.ages[sl].float()).abs().sum())
            if gender_logit is not None:
                gender_right += int(((gender_logit > 0).long() == data.genders[sl]).sum())
    n = len(data)
    return {"loss": total / n, "mae": age_error / n, "gender_acc": gender_right / n}


def learning_rate(cfg: Config, step: int, total_steps: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(cfg: Config, run_dir: Path, cache_dir: Path = CACHE_DIR) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    crops, index = load_cache(cache_dir=cache_dir)
    split = read_split()
    names = {part: split[part][: cfg.limit] if cfg.limit else split[part] for part in ("train", "val")}
    train_data, val_data = Data(names["train"], crops, index), Data(names["val"], crops, index)

    model = build_model(cfg.design)
    if cfg.init:
        load_pretrained(model.trunk, Path(cfg.init))
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train_data) // cfg.batch
    total_steps = steps_per_epoch * cfg.epochs
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "minutes": 0.0, "best_val_loss": float("inf"),
             "epochs_without_improvement": 0, "history": [], "config": asdict(cfg), "stopped": None,
             "training_commit": training_commit()}

    last = run_dir / "last.pt"
    if last.exists():
        checkpoint = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = checkpoint["state"]
        print(f"resuming {cfg.design} at epoch {state['epoch']} step {state['step_in_epoch']} "
              f"({state['minutes']:.1f} min done)")

    def save(path: Path) -> None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state}, path)

    last_save = time.monotonic()
    while state["stopped"] is None:
        epoch = state["epoch"]
        if epoch >= cfg.epochs:
            state["stopped"] = "all epochs done"
            break
        order = np.random.default_rng(cfg.seed * 1000 + epoch).permutation(len(train_data))
        aug_rng = np.random.default_rng(cfg.seed * 1000 + epoch + 7)
        model.train()
        bar = tqdm(range(state["step_in_epoch"], steps_per_epoch), desc=f"{cfg.design} epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", dynamic_ncols=True)
        for step in bar:
            started = time.monotonic()
            rows = order[step * cfg.batch:(step + 1) * cfg.batch]
            batch = np.stack([augment(train_data.crops[r], aug_rng) for r in rows])
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, state["global_step"], total_steps)
            age_logits, gender_logit = outputs(model, to_tensor(batch))
            loss = loss_of(age_logits, gender_logit, train_data.ages[rows], train_data.genders[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["global_step"] += 1
            state["step_in_epoch"] = step + 1
            state["minutes"] += (time.monotonic() - started) / 60
            bar.set_postfix(loss=f"{loss.item():.3f}", min=f"{state['minutes']:.1f}")
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                save(last)
                last_save = time.monotonic()
            if state["minutes"] >= cfg.max_minutes:
                state["stopped"] = f"time budget of {cfg.max_minutes} min reached"
                break
            if cfg.max_steps and state["global_step"] >= cfg.max_steps:
                state["stopped"] = f"step budget of {cfg.max_steps} steps reached"
                break
        bar.close()
        metrics = evaluate(model, val_data)
        metrics.update(epoch=epoch + 1, minutes=round(state["minutes"], 2), complete=state["stopped"] is None)
        state["history"].append(metrics)
        print(f"validation after epoch {epoch + 1}: " + json.dumps(metrics))
        if metrics["loss"] < state["best_val_loss"]:
            state["best_val_loss"] = metrics["loss"]
            state["epochs_without_improvement"] = 0
            torch.save({"model": model.state_dict(), "design": cfg.design, "metrics": metrics,
                        "training_commit": state.get("training_commit", "unknown")}, run_dir / "best.pt")
        else:
            state["epochs_without_improvement"] += 1
            if state["epochs_without_improvement"] >= cfg.patience:
                state["stopped"] = f"early stop: no validation improvement in {cfg.patience} epochs"
        if state["stopped"] is None:
            state["epoch"] += 1
            state["step_in_epoch"] = 0
        save(last)
        last_save = time.monotonic()
    (run_dir / "history.json").write_text(json.dumps(state, indent=1))
    print(f"{cfg.design}: stopped ({state['stopped']}); best validation loss {state['best_val_loss']:.4f}")
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--design", choices=DESIGNS, required=True)
    parser.add_argument("--init", help="pretrained MobileFaceNet state dict (../shared/pretrained/mobilefacenet/"
                                       "mobilefacenet.pt); without it the trunk trains from scratch")
    defaults = Config(design="multitask")
    for name in ("epochs", "batch", "patience", "seed", "limit", "max_steps"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(defaults, name))
    for name in ("lr", "max_minutes"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=getattr(defaults, name))
    parser.add_argument("--run-dir", type=Path, help="default: runs/DESIGN")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(design=args.design, init=args.init, epochs=args.epochs, batch=args.batch, lr=args.lr,
                 patience=args.patience, seed=args.seed, max_minutes=args.max_minutes, limit=args.limit,
                 max_steps=args.max_steps)
    train(cfg, args.run_dir or RUNS_DIR / args.design)


if __name__ == "__main__":
    main()
