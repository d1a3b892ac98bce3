#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes prefopt's optimizer golden fixture from PyTorch's own AdamW, clip_grad_norm_ and LambdaLR.

    /usr/bin/python3 tests/reference/optim_reference.py            # (re)write the fixture
    /usr/bin/python3 tests/reference/optim_reference.py --check    # regenerate in memory, compare

Output: tests/reference/fixtures/adamw_golden.json
  adamw:     three float32 tensors ("weight" [12, 32], "bias" [37], "ln_weight" [40]) trained for
             5 steps by torch.optim.AdamW(foreach=False) with Hugging Face Trainer's parameter groups
             (weight decay 0.01 on "weight" only), torch.nn.utils.clip_grad_norm_(max_norm=1.0)
             before each step, and the lr of transformers' linear schedule with warm-up through
             torch.optim.lr_scheduler.LambdaLR. Per step: the raw gradients, the lr used, the pre-clip
             total norm, the clipped gradients, and params / exp_avg / exp_avg_sq after the step.
  schedules: lr factor tables (total 10 steps, warm-up 3) of transformers' four schedulers, through
             LambdaLR on a dummy optimizer with lr 1.

transformers is not installed here, so its get_scheduler lambdas (optimization.py:
get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup with num_cycles=0.5,
get_constant_schedule, get_constant_schedule_with_warmup) are written out below with the same
float conversions and the same operation order. Everything is drawn from a seeded torch.Generator on
one thread, so reruns are bit-identical on the same torch build.
"""
import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240612
STEPS = 5
BASE_LR = 5e-2
WARMUP = 2
WEIGHT_DECAY = 0.01
MAX_NORM = 1.0
# Target pre-clip gradient norms: above and below max_norm, so both branches of the clip run.
GRAD_NORMS = [2.5, 0.3, 1.7, 0.6, 4.0]
SHAPES = {"weight": [12, 32], "bias": [37], "ln_weight": [40]}  # 37: not a multiple of the SIMD width
DECAY = {"weight": True, "bias": False, "ln_weight": False}
SCHEDULE_TOTAL = 10
SCHEDULE_WARMUP = 3

# ---- transformers' schedule lambdas (optimization.py), written out --------------------------------

def linear_lambda(num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) /
                   float(max(1, num_training_steps - num_warmup_steps)))
    return lr_lambda


def cosine_lambda(num_warmup_steps, num_training_steps, num_cycles=0.5):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
    return lr_lambda


def constant_lambda(num_warmup_steps, num_training_steps):
    return lambda _: 1


def constant_with_warmup_lambda(num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1.0, num_warmup_steps))
        return 1.0
    return lr_lambda


SCHEDULERS = {
    "linear": linear_lambda,
    "cosine": cosine_lambda,
    "constant": constant_lambda,
    "constant_with_warmup": constant_with_warmup_lambda,
}

# ---- output ---------------------------------------------------------------------------------------

def dumps_compact(obj, indent=0):
    """JSON with dicts indented and lists of numbers on one line (json's float repr round-trips)."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {dumps_compact(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(x, (list, dict)) for x in obj):
        items = [pad + "  " + dumps_compact(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, separators=(", ", ": "))


def flat(tensors):
    """Tensors of the three parameters, row-major, in SHAPES order, as one list of floats."""
    return [x for name in SHAPES for x in tensors[name].detach().reshape(-1).tolist()]


def check(cond, what):
    if not cond:
        raise SystemExit(f"optim_reference.py: self-check failed: {what}")


# ---- the golden run -------------------------------------------------------------------------------

def schedule_tables():
    tables = {}
    for name, make in SCHEDULERS.items():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, make(SCHEDULE_WARMUP, SCHEDULE_TOTAL))
        lrs = []
        for _ in range(SCHEDULE_TOTAL + 2):  # two past the end: the tail stays at 0 / 1
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        tables[name] = lrs
    return tables


def adamw_golden():
    gen = torch.Generator().manual_seed(SEED)
    params = {}
    for name, shape in SHAPES.items():
        init = torch.randn(shape, generator=gen, dtype=torch.float32) * 0.1
        if name == "ln_weight":
            init = init + 1.0
        params[name] = torch.nn.Parameter(init)
    initial = flat(params)

    groups = [{"params": [p for n, p in params.items() if DECAY[n]], "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in params.items() if not DECAY[n]], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=BASE_LR, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_lambda(WARMUP, STEPS))

    n_total = sum(math.prod(s) for s in SHAPES.values())
    steps = []
    for k in range(STEPS):
        raw = {n: torch.randn(s, generator=gen, dtype=torch.float32) for n, s in SHAPES.items()}
        scale = GRAD_NORMS[k] / math.sqrt(n_total)
        for n, p in params.items():
            p.grad = (raw[n] * scale).to(torch.float32)
        grads = flat({n: p.grad for n, p in params.items()})
        lr = opt.param_groups[0]["lr"]
        check(all(g["lr"] == lr for g in opt.param_groups), "every group has the scheduled lr")
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=MAX_NORM)
        clipped = flat({n: p.grad for n, p in params.items()})
        opt.step()
        sched.step()
        state = [opt.state[p] for p in params.values()]
        steps.append({
            "lr": lr,
            "grads": grads,
            "norm": norm.item(),
            "clipped_grads": clipped,
            "params": flat(params),
            "exp_avg": [x for s in state for x in s["exp_avg"].reshape(-1).tolist()],
            "exp_avg_sq": [x for s in state for x in s["exp_avg_sq"].reshape(-1).tolist()],
        })
        check(all(s["step"].item() == k + 1 for s in state), "state step counts steps")
    norms = [s["norm"] for s in steps]
    check(any(x > MAX_NORM for x in norms) and any(x < MAX_NORM for x in norms),
          f"pre-clip norms straddle max_norm ({norms})")
    check(steps[0]["lr"] == 0.0, "linear warm-up starts at lr 0")
    return {
        "tensors": [{"name": n, "shape": s, "decay": DECAY[n]} for n, s in SHAPES.items()],
        "base_lr": BASE_LR, "warmup_steps": WARMUP, "total_steps": STEPS, "schedule": "linear",
        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": WEIGHT_DECAY, "max_norm": MAX_NORM,
        "initial_params": initial,
        "steps": steps,
    }


def build_outputs():
    torch.set_num_threads(1)
    golden = {
        "generator": {
            "script": "tests/reference/optim_reference.py",
            "torch": torch.__version__,
            "seed": SEED,
            "command": "/usr/bin/python3 tests/reference/optim_reference.py",
            "notes": "all tensors float32, flattened row-major and concatenated in 'tensors' order; "
                     "steps[k].lr is the lr of optimizer step k (0-based); norm is clip_grad_norm_'s "
                     "return value (the pre-clip total L2 norm); clipped_grads are the gradients AdamW saw; "
                     "params/exp_avg/exp_avg_sq are after step k. schedules[type][k] is LambdaLR's lr "
                     "factor for step k with total_steps/warmup_steps below",
        },
        "adamw": adamw_golden(),
        "schedules": {"total_steps": SCHEDULE_TOTAL, "warmup_steps": SCHEDULE_WARMUP, **schedule_tables()},
    }
    return {"adamw_golden.json": (dumps_compact(golden) + "\n").encode()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(HERE, "fixtures"))
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory and compare with the files in --out-dir, writing nothing")
    args = ap.parse_args()
    files = build_outputs()
    status = 0
    for rel, data in files.items():
        path = os.path.join(args.out_dir, rel)
        if args.check:
            same = os.path.exists(path) and open(path, "rb").read() == data
            print(f"{'same' if same else 'DIFFERS'}  {path}")
            status |= 0 if same else 1
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"wrote {path} ({len(data)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
