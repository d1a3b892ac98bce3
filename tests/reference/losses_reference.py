#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes prefopt's loss golden values from an independent PyTorch evaluation.

    /usr/bin/python3 tests/reference/losses_reference.py            # (re)write the fixture
    /usr/bin/python3 tests/reference/losses_reference.py --check    # regenerate in memory, compare

Output: tests/reference/fixtures/losses_golden.json — for every loss of include/prefopt/loss/, about
ten fixed (hyperparameters, per-pair log-probs) tuples with the per-pair loss, the autograd
gradients with respect to the SUMMED policy log-probs S_w, S_l, and the logged rewards, logps and
NLL. Each loss is written the way TRL writes it (F.logsigmoid, torch.relu, log1p(-exp(.)), the
averaged log-probs as sum / length), in float64, from TRL 0.12-0.15's DPOTrainer.dpo_loss
(sigmoid with label_smoothing, ipo, hinge), CPOTrainer.cpo_loss (simpo, cpo_alpha = 0) and
ORPOTrainer.odds_ratio_loss; SLiC-HF (no TRL version) from its paper, arXiv 2305.10425 Sec. 2,
with the per-token NLL prefopt uses; sft = -S_w. The C++ side is not consulted.

--check regenerates in memory and compares with the committed file: identical bytes pass; if the
bytes differ (another torch build may round the last bit differently) every number must still
agree to 1e-14 relative, else exit 1.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "losses_golden.json")
FIELDS = ("policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected",
          "chosen_tokens", "rejected_tokens")


# ---- the losses, as TRL writes them --------------------------------------------------------------
# Each takes the hyperparameters and the pair (S_w, S_l: leaf tensors; ref_w, ref_l: tensors;
# n_w, n_l: ints) and returns (loss, reward_chosen, reward_rejected, logp_chosen, logp_rejected, nll).

def dpo(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    beta, ls = hp["beta"], hp["label_smoothing"]
    logratios = s_w - s_l
    ref_logratios = ref_w - ref_l
    logits = logratios - ref_logratios
    loss = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
    return loss, beta * (s_w - ref_w), beta * (s_l - ref_l), s_w, s_l, torch.zeros((), dtype=torch.float64)


def ipo(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    beta = hp["beta"]
    a_w, a_l = s_w / n_w, s_l / n_l            # concatenated_forward: sum / mask.sum(-1) for "ipo"
    ref_a_w, ref_a_l = ref_w / n_w, ref_l / n_l
    logits = (a_w - a_l) - (ref_a_w - ref_a_l)
    loss = (logits - 1 / (2 * beta)) ** 2
    return loss, beta * (a_w - ref_a_w), beta * (a_l - ref_a_l), a_w, a_l, torch.zeros((), dtype=torch.float64)


def hinge(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    beta = hp["beta"]
    logits = (s_w - s_l) - (ref_w - ref_l)
    loss = torch.relu(1 - beta * logits)
    return loss, beta * (s_w - ref_w), beta * (s_l - ref_l), s_w, s_l, torch.zeros((), dtype=torch.float64)


def slic(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    delta, lam = hp["delta"], hp["lambda"]
    nll = -s_w / n_w
    loss = torch.relu(delta - (s_w - s_l)) + lam * nll
    return loss, s_w, s_l, s_w, s_l, nll


def simpo(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    beta, gamma = hp["beta"], hp["gamma"]
    a_w, a_l = s_w / n_w, s_l / n_l
    logits = a_w - a_l
    gamma_logratios = gamma / beta
    logits = logits - gamma_logratios
    loss = -F.logsigmoid(beta * logits)       # label_smoothing = 0
    return loss, beta * a_w, beta * a_l, a_w, a_l, torch.zeros((), dtype=torch.float64)


def orpo(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    beta = hp["lambda"]                        # TRL's ORPOConfig.beta is the paper's lambda
    a_w, a_l = s_w / n_w, s_l / n_l
    log_odds = (a_w - a_l) - (torch.log1p(-torch.exp(a_w)) - torch.log1p(-torch.exp(a_l)))
    ratio = F.logsigmoid(log_odds)
    losses = beta * ratio
    nll = -a_w                                 # per pair (TRL: token mean over the micro-batch)
    loss = nll - losses
    return loss, beta * a_w, beta * a_l, a_w, a_l, nll


def sft(hp, s_w, s_l, ref_w, ref_l, n_w, n_l):
    zero = torch.zeros((), dtype=torch.float64)
    return -s_w, zero, zero, s_w, zero, -s_w / n_w


LOSSES = {"dpo": dpo, "ipo": ipo, "hinge": hinge, "slic": slic, "simpo": simpo, "orpo": orpo, "sft": sft}

# ---- the inputs: (hyperparameters, (S_w, S_l, ref_w, ref_l, |y_w|, |y_l|)) -------------------------
# Chosen to avoid catastrophic cancellation in the compared outputs (a loss or gradient that is the
# difference of two nearly equal numbers would test rounding, not the formula), except the exact
# kinks and zeros, which test conventions: DPO at h = 0 (ln 2, -β/2), the hinge at 1 - βh = 0 and
# SLiC at δ - (S_w - S_l) = 0 (subgradient 0, torch.relu's).

D = {"beta": 0.1, "label_smoothing": 0.0}
CASES = {
    "dpo": [
        (D, (-12.5, -14.0, -13.0, -13.5, 7, 9)),
        (D, (-40.0, -30.0, -45.0, -35.0, 20, 15)),          # h = 0 exactly: loss ln 2
        (D, (-3.25, -80.5, -10.0, -60.0, 4, 50)),
        (D, (-120.0, -20.0, -100.0, -25.0, 64, 12)),
        ({"beta": 0.3, "label_smoothing": 0.0}, (-55.0, -61.0, -58.0, -57.0, 30, 31)),
        ({"beta": 0.5, "label_smoothing": 0.1}, (-9.0, -17.0, -11.0, -12.0, 5, 8)),
        ({"beta": 0.1, "label_smoothing": 0.25}, (-33.0, -31.0, -30.0, -36.0, 18, 17)),
        ({"beta": 2.0, "label_smoothing": 0.0}, (-5.0, -400.0, -6.0, -250.0, 3, 200)),   # βh = 302
        ({"beta": 1.0, "label_smoothing": 0.05}, (-700.0, -2.0, -20.0, -10.0, 300, 2)),  # βh = -688
        ({"beta": 0.05, "label_smoothing": 0.4}, (-1.5, -2.75, -1.0, -4.0, 1, 1)),
    ],
    "ipo": [
        ({"beta": 0.1}, (-12.5, -14.0, -13.0, -13.5, 7, 9)),
        ({"beta": 0.1}, (-40.0, -30.0, -35.0, -35.0, 20, 15)),
        ({"beta": 0.1}, (-3.25, -80.5, -10.0, -60.0, 4, 50)),
        ({"beta": 0.1}, (-120.0, -20.0, -100.0, -25.0, 64, 12)),
        ({"beta": 0.5}, (-9.0, -17.0, -11.0, -12.0, 5, 8)),
        ({"beta": 0.01}, (-33.0, -31.0, -30.0, -36.0, 18, 17)),
        ({"beta": 1.0}, (-5.0, -400.0, -6.0, -250.0, 3, 200)),
        ({"beta": 0.2}, (-700.0, -2.0, -20.0, -10.0, 300, 2)),
        ({"beta": 0.1}, (-1.5, -2.75, -1.0, -4.0, 1, 1)),
        ({"beta": 0.3}, (-0.5, -90.0, -30.0, -40.0, 1, 3)),
    ],
    "hinge": [
        ({"beta": 0.1}, (-12.5, -14.0, -13.0, -13.5, 7, 9)),
        ({"beta": 0.1}, (-40.0, -30.0, -35.0, -35.0, 20, 15)),
        ({"beta": 0.1}, (-3.25, -80.5, -10.0, -60.0, 4, 50)),       # 1 - βh < 0: zero loss and gradient
        ({"beta": 0.1}, (-120.0, -20.0, -100.0, -25.0, 64, 12)),
        ({"beta": 0.5}, (-10.0, -14.0, -12.0, -14.0, 6, 6)),        # 1 - βh = 0 exactly: subgradient 0
        ({"beta": 0.5}, (-9.0, -17.0, -11.0, -12.0, 5, 8)),
        ({"beta": 0.05}, (-33.0, -31.0, -30.0, -36.0, 18, 17)),
        ({"beta": 2.0}, (-5.0, -400.0, -6.0, -250.0, 3, 200)),
        ({"beta": 1.0}, (-700.0, -2.0, -20.0, -10.0, 300, 2)),
        ({"beta": 0.25}, (-1.5, -2.75, -1.0, -4.0, 1, 1)),
    ],
    "slic": [
        ({"delta": 1.0, "lambda": 0.1}, (-12.5, -14.0, 0.0, 0.0, 7, 9)),   # margin 1.5 > δ: NLL only
        ({"delta": 1.0, "lambda": 0.1}, (-40.0, -30.0, 0.0, 0.0, 20, 15)),
        ({"delta": 1.0, "lambda": 0.1}, (-5.0, -6.0, 0.0, 0.0, 4, 4)),     # δ - (S_w - S_l) = 0 exactly
        ({"delta": 1.0, "lambda": 0.5}, (-3.25, -3.5, 0.0, 0.0, 4, 5)),
        ({"delta": 5.0, "lambda": 0.1}, (-120.0, -20.0, 0.0, 0.0, 64, 12)),
        ({"delta": 0.5, "lambda": 0.0}, (-9.0, -9.25, 0.0, 0.0, 5, 8)),
        ({"delta": 2.0, "lambda": 1.0}, (-33.0, -31.0, 0.0, 0.0, 18, 17)),
        ({"delta": 1.0, "lambda": 0.1}, (-700.0, -2.0, 0.0, 0.0, 300, 2)),
        ({"delta": 10.0, "lambda": 0.1}, (-1.5, -2.75, 0.0, 0.0, 1, 1)),
        ({"delta": 0.0, "lambda": 0.2}, (-60.0, -55.0, 0.0, 0.0, 30, 25)),
    ],
    "simpo": [
        ({"beta": 0.1, "gamma": 0.5}, (-12.5, -14.0, 0.0, 0.0, 7, 9)),
        ({"beta": 0.1, "gamma": 0.5}, (-40.0, -30.0, 0.0, 0.0, 20, 15)),
        ({"beta": 0.1, "gamma": 0.5}, (-3.25, -80.5, 0.0, 0.0, 4, 50)),
        ({"beta": 2.0, "gamma": 1.0}, (-120.0, -20.0, 0.0, 0.0, 64, 12)),
        ({"beta": 2.5, "gamma": 1.375}, (-55.0, -61.0, 0.0, 0.0, 30, 31)),
        ({"beta": 2.0, "gamma": 1.6}, (-9.0, -17.0, 0.0, 0.0, 5, 8)),
        ({"beta": 10.0, "gamma": 5.0}, (-5.0, -400.0, 0.0, 0.0, 3, 200)),
        ({"beta": 10.0, "gamma": 0.0}, (-700.0, -2.0, 0.0, 0.0, 3, 2)),    # z = -3340
        ({"beta": 0.1, "gamma": 0.0}, (-1.5, -2.75, 0.0, 0.0, 1, 1)),
        ({"beta": 1.0, "gamma": 3.0}, (-0.5, -90.0, 0.0, 0.0, 1, 3)),
    ],
    "orpo": [
        ({"lambda": 0.1}, (-12.5, -14.0, 0.0, 0.0, 7, 9)),
        ({"lambda": 0.1}, (-40.0, -30.0, 0.0, 0.0, 20, 15)),
        ({"lambda": 0.1}, (-3.25, -80.5, 0.0, 0.0, 4, 50)),
        ({"lambda": 0.1}, (-120.0, -20.0, 0.0, 0.0, 64, 12)),
        ({"lambda": 0.5}, (-0.25, -17.0, 0.0, 0.0, 5, 8)),         # A_w = -0.05 (log(-expm1) branch)
        ({"lambda": 0.2}, (-0.125, -0.75, 0.0, 0.0, 4, 3)),        # both > -ln 2
        ({"lambda": 1.0}, (-5.0, -400.0, 0.0, 0.0, 3, 200)),
        ({"lambda": 0.1}, (-700.0, -2.0, 0.0, 0.0, 300, 2)),
        ({"lambda": 0.0}, (-1.5, -2.75, 0.0, 0.0, 1, 1)),
        ({"lambda": 2.0}, (-60.0, -0.5, 0.0, 0.0, 2, 25)),         # A_w = -30, A_l = -0.02
    ],
    "sft": [
        ({}, (-12.5, -14.0, 0.0, 0.0, 7, 9)),
        ({}, (-40.0, -30.0, 0.0, 0.0, 20, 15)),
        ({}, (-3.25, 0.0, 0.0, 0.0, 4, 1)),
        ({}, (-120.0, -20.0, 0.0, 0.0, 64, 12)),
        ({}, (-0.001, 0.0, 0.0, 0.0, 1, 1)),
        ({}, (-9.0, -17.0, 0.0, 0.0, 5, 8)),
        ({}, (-333.75, -31.0, 0.0, 0.0, 180, 17)),
        ({}, (-5.0, -400.0, 0.0, 0.0, 3, 200)),
        ({}, (-700.0, -2.0, 0.0, 0.0, 300, 2)),
        ({}, (-1.5, -2.75, 0.0, 0.0, 1, 1)),
    ],
}


def evaluate(name, hp, pair):
    s_w0, s_l0, ref_w0, ref_l0, n_w, n_l = pair
    s_w = torch.tensor(s_w0, dtype=torch.float64, requires_grad=True)
    s_l = torch.tensor(s_l0, dtype=torch.float64, requires_grad=True)
    ref_w = torch.tensor(ref_w0, dtype=torch.float64)
    ref_l = torch.tensor(ref_l0, dtype=torch.float64)
    loss, r_w, r_l, lp_w, lp_l, nll = LOSSES[name](hp, s_w, s_l, ref_w, ref_l, n_w, n_l)
    g_w, g_l = torch.autograd.grad(loss, (s_w, s_l), allow_unused=True)
    g = lambda t: 0.0 if t is None else float(t)
    return {"loss": float(loss), "d_policy_chosen": g(g_w), "d_policy_rejected": g(g_l),
            "reward_chosen": float(r_w), "reward_rejected": float(r_l),
            "logp_chosen": float(lp_w), "logp_rejected": float(lp_l), "nll": float(nll)}


def check(cond, what):
    if not cond:
        raise SystemExit(f"losses_reference.py: self-check failed: {what}")


def self_check_gradients(name, hp, pair, expected):
    """Autograd against central differences of the same torch function (skipping the kinks)."""
    def f(dw, dl):
        p = (pair[0] + dw, pair[1] + dl) + tuple(pair[2:])
        return evaluate(name, hp, p)["loss"]
    e = 1e-6
    for key, (dw, dl) in (("d_policy_chosen", (e, 0)), ("d_policy_rejected", (0, e))):
        fd = (f(dw, dl) - f(-dw, -dl)) / (2 * e)
        ad = expected[key]
        if abs(fd - ad) > 1e-6 * max(1.0, abs(ad)):
            check(name in ("hinge", "slic"), f"{name} {pair}: {key} autograd {ad} vs central difference {fd}")


def build():
    cases = []
    for name, rows in CASES.items():
        for hp, pair in rows:
            expected = evaluate(name, hp, pair)
            check(all(math.isfinite(v) for v in expected.values()), f"{name} {pair}: non-finite output")
            self_check_gradients(name, hp, pair, expected)
            inputs = dict(zip(FIELDS, pair))
            cases.append({"loss": name, "params": hp, "input": inputs, "expected": expected})
    # the conventions the fixture is meant to pin
    dpo_zero = next(c for c in cases if c["loss"] == "dpo" and c["input"]["policy_chosen"] == -40.0)
    check(dpo_zero["expected"]["loss"] == math.log(2), "DPO at h = 0 is ln 2")
    return {
        "generator": "tests/reference/losses_reference.py",
        "torch_version": torch.__version__,
        "notes": "gradients are d loss / d S (summed policy log-probs), from torch.autograd in float64",
        "cases": cases,
    }


def dumps(doc):
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def numbers_agree(a, b, rel=1e-14):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(numbers_agree(a[k], b[k], rel) for k in a
                                                                    if k != "torch_version")
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(numbers_agree(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=FIXTURE)
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    doc = build()
    data = dumps(doc)
    if not args.check:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "wb") as f:
            f.write(data)
        print(f"wrote {args.out} ({len(doc['cases'])} cases, {len(data)} bytes)")
        return 0
    if not os.path.exists(args.out):
        print(f"MISSING  {args.out}")
        return 1
    old = open(args.out, "rb").read()
    if old == data:
        print(f"same  {args.out}")
        return 0
    if numbers_agree(json.loads(old), doc):
        print(f"same to 1e-14 (bytes differ: another torch build?)  {args.out}")
        return 0
    print(f"DIFFERS  {args.out}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
