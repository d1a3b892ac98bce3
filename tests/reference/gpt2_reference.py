#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes prefopt's GPT-2 golden fixtures from an independent PyTorch implementation.

    /usr/bin/python3 tests/reference/gpt2_reference.py            # (re)write the fixtures
    /usr/bin/python3 tests/reference/gpt2_reference.py --check    # regenerate in memory, compare

Outputs (under tests/reference/fixtures/):
  gpt2_tiny/config.json        GPT2Config as transformers writes it
  gpt2_tiny/model.safetensors  the random tiny checkpoint, tensor names as GPT2LMHeadModel saves them
  gpt2_tiny_golden.json        per-token log-probs and last-position logits (float64 and float32),
                               gradient statistics of sum(w * token_logps) in float64

The model is gpt2_torch.py (plain torch ops, no transformers). Everything is drawn from fixed seeds
with torch.Generator on one thread, so reruns are bit-identical on the same torch build.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_torch  # noqa: E402

MODEL_SEED = 20240611       # parameters
SEQUENCE_SEED = 1001        # token ids
WEIGHT_SEED = 2002          # per-token gradient weights
SEQUENCE_LENGTHS = (7, 1, 13, 20)
GRAD_HEAD = 8               # leading gradient values stored per tensor

TINY_CONFIG = dict(n_layer=2, n_head=4, n_embd=32, n_positions=64, vocab_size=101,
                   layer_norm_epsilon=1e-5, initializer_range=0.02)


def hf_config_json(c):
    """config.json contents for a GPT2LMHeadModel, the fields transformers' GPT2Config writes."""
    eos = c["vocab_size"] - 1
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": eos,
        "embd_pdrop": 0.1,
        "eos_token_id": eos,
        "initializer_range": c["initializer_range"],
        "layer_norm_epsilon": c["layer_norm_epsilon"],
        "model_type": "gpt2",
        "n_ctx": c["n_positions"],
        "n_embd": c["n_embd"],
        "n_head": c["n_head"],
        "n_inner": None,
        "n_layer": c["n_layer"],
        "n_positions": c["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": c["vocab_size"],
    }


# ---- safetensors, by hand -------------------------------------------------------------------------
# File = u64 little-endian header length N | N bytes of JSON (space-padded to a multiple of 8) | data.
# Like the safetensors library, tensors are laid out in name order (all F32 here), the header lists
# "__metadata__" first and then the tensors in data order.

def safetensors_bytes(tensors, metadata):
    names = sorted(tensors)
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in names:
        t = tensors[name]
        assert t.dtype == torch.float32 and t.is_contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(blob):
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32"
        b, e = info["data_offsets"]
        flat = torch.frombuffer(bytearray(blob[8 + n + b:8 + n + e]), dtype=torch.float32)
        out[name] = flat.view(info["shape"]) if info["shape"] else flat.view(())
    return out


# ---- golden values --------------------------------------------------------------------------------

def make_sequences():
    g = torch.Generator().manual_seed(SEQUENCE_SEED)
    return [torch.randint(0, TINY_CONFIG["vocab_size"], (L,), generator=g, dtype=torch.int64)
            for L in SEQUENCE_LENGTHS]


def make_token_weights():
    g = torch.Generator().manual_seed(WEIGHT_SEED)
    return [torch.randn(max(L - 1, 0), generator=g, dtype=torch.float64) for L in SEQUENCE_LENGTHS]


def evaluate(params, sequences, ops="reference"):
    token_logps, last_logits = [], []
    with torch.no_grad():
        for seq in sequences:
            lp, logits = gpt2_torch.next_token_logps(params, TINY_CONFIG, seq, ops)
            token_logps.append(lp.tolist())
            last_logits.append(logits[-1].tolist())
    return {"token_logps": token_logps, "last_logits": last_logits}


def objective(params, sequences, weights):
    total = torch.zeros((), dtype=torch.float64)
    for seq, w in zip(sequences, weights):
        lp, _ = gpt2_torch.next_token_logps(params, TINY_CONFIG, seq)
        total = total + (w * lp).sum()
    return total


def gradient_golden(params64, sequences, weights):
    leaves = {k: v.clone().requires_grad_(True) for k, v in params64.items()}
    value = objective(leaves, sequences, weights)
    value.backward()
    stats = {}
    for name, _ in gpt2_torch.parameter_shapes(TINY_CONFIG):
        g = leaves[name].grad.detach().reshape(-1)
        stats[name] = {"sum": g.sum().item(), "sumsq": (g * g).sum().item(), "head": g[:GRAD_HEAD].tolist()}
    grads = {k: v.grad.detach() for k, v in leaves.items()}
    return value.item(), stats, grads


# ---- self-checks (the oracle checks itself before anything is written) ----------------------------

def check(cond, what):
    if not cond:
        raise SystemExit(f"gpt2_reference.py: self-check failed: {what}")
    print(f"  ok  {what}")


def self_checks(params32, params64, sequences, weights, grads, golden):
    print("self-checks:")
    # 1. the fused op set (F.layer_norm, F.gelu tanh, addmm) computes the same function
    fused = evaluate(params64, sequences, ops="fused")
    diff = max(abs(a - b) for s in ("token_logps", "last_logits")
               for ra, rb in zip(fused[s], golden["float64"][s]) for a, b in zip(ra, rb))
    check(diff < 1e-12, f"reference vs fused op set agree in float64 (max diff {diff:.2e})")
    # 2. causality: a prefix gives the same logits as the full sequence at its positions
    seq = sequences[3]
    with torch.no_grad():
        full = gpt2_torch.forward_logits(params64, TINY_CONFIG, seq.unsqueeze(0))[0]
        part = gpt2_torch.forward_logits(params64, TINY_CONFIG, seq[:9].unsqueeze(0))[0]
    diff = (full[:9] - part).abs().max().item()
    check(diff < 1e-12, f"prefix logits equal full-sequence logits (max diff {diff:.2e})")
    # 3. float32 and float64 agree loosely
    diff = max(abs(a - b) for ra, rb in zip(golden["float32"]["token_logps"], golden["float64"]["token_logps"])
               for a, b in zip(ra, rb))
    check(diff < 1e-4, f"float32 token log-probs within 1e-4 of float64 (max diff {diff:.2e})")
    # 4. autograd against central differences on a few coordinates of every tensor kind
    h = 1e-5  # float64: truncation error ~h^2 (~1e-9 here), rounding ~1e-16 |f| / h (~4e-10)
    worst_abs, worst_excess = 0.0, 0.0
    for name in ("wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.1.attn.c_attn.bias",
                 "h.1.attn.c_proj.weight", "h.0.ln_2.bias", "h.1.mlp.c_fc.weight", "h.0.mlp.c_proj.bias",
                 "ln_f.weight", "ln_f.bias"):
        flat_size = params64[name].numel()
        for idx in (0, flat_size // 3, flat_size - 1):
            p = {k: v.clone() for k, v in params64.items()}
            with torch.no_grad():
                p[name].view(-1)[idx] += h
                up = objective(p, sequences, weights).item()
                p[name].view(-1)[idx] -= 2 * h
                down = objective(p, sequences, weights).item()
            fd = (up - down) / (2 * h)
            ad = grads[name].reshape(-1)[idx].item()
            worst_abs = max(worst_abs, abs(fd - ad))
            worst_excess = max(worst_excess, abs(fd - ad) / (5e-9 + 1e-7 * abs(ad)))
    check(worst_excess < 1.0, "autograd matches central differences on 33 coordinates, |fd - ad| <= "
          f"5e-9 + 1e-7 |ad| (worst abs err {worst_abs:.2e})")
    # 5. float32 parameters are what the safetensors file holds (checked by the caller after reading back)
    del params32


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


def build_outputs():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(MODEL_SEED)
    params32 = gpt2_torch.init_parameters(TINY_CONFIG, gen, dtype=torch.float32, random_biases=True)
    params64 = {k: v.double() for k, v in params32.items()}
    sequences = make_sequences()
    weights = make_token_weights()

    golden = {
        "config": hf_config_json(TINY_CONFIG),
        "sequences": [s.tolist() for s in sequences],
        "float64": evaluate(params64, sequences),
        "float32": evaluate(params32, sequences),
    }
    value, grad_stats, grads = gradient_golden(params64, sequences, weights)
    golden["token_weights"] = [w.tolist() for w in weights]
    golden["float64_objective"] = value
    golden["float64_grad"] = grad_stats
    golden["generator"] = {
        "script": "tests/reference/gpt2_reference.py",
        "model_module": "tests/reference/gpt2_torch.py",
        "torch": torch.__version__,
        "seeds": {"model": MODEL_SEED, "sequences": SEQUENCE_SEED, "token_weights": WEIGHT_SEED},
        "command": "/usr/bin/python3 tests/reference/gpt2_reference.py",
        "notes": "token_logps[s][t] = log_softmax(logits[t])[tokens[t+1]] for sequence s run alone; "
                 "last_logits[s] = logits at the last position; float64 = float32 weights cast to double; "
                 "float64_grad = d/dtheta of sum_s sum_t token_weights[s][t] * token_logps[s][t], "
                 "per HF tensor name: sum, sum of squares, first values in row-major order",
    }
    self_checks(params32, params64, sequences, weights, grads, golden)

    files = {
        "gpt2_tiny/config.json": (json.dumps(golden["config"], indent=2, sort_keys=True) + "\n").encode(),
        "gpt2_tiny/model.safetensors": safetensors_bytes(
            {"transformer." + k: v for k, v in params32.items()}, {"format": "pt"}),
        "gpt2_tiny_golden.json": (dumps_compact(golden) + "\n").encode(),
    }
    back = read_safetensors(files["gpt2_tiny/model.safetensors"])
    check(sorted(back) == sorted("transformer." + k for k in params32) and
          all(torch.equal(back["transformer." + k], v) for k, v in params32.items()),
          "model.safetensors reads back bit-exactly with transformer.* names and no lm_head")
    return files


# The golden values are sums of products, so the last bits depend on the BLAS kernels torch picks
# for this CPU (AVX2 and AVX-512 OpenBLAS kernels order their sums differently): --check accepts a
# regeneration whose numbers agree with the stored ones to a few units in the last place of their
# precision — far below every tolerance the C++ tests apply to them — and whose integers, names and
# shapes are identical.
GOLDEN_TOLERANCE = {"float64": (1e-13, 1e-12), "float32": (2e-6, 2e-6)}  # (absolute, relative)


def golden_disagreements(new, stored):
    problems, worst = [], {"float64": 0.0, "float32": 0.0}

    def walk(a, b, where, kind):
        if isinstance(b, dict):
            if not isinstance(a, dict) or sorted(a) != sorted(b):
                problems.append(f"{where}: keys {sorted(a) if isinstance(a, dict) else type(a).__name__}"
                                f" != {sorted(b)}")
                return
            for k in b:
                walk(a[k], b[k], f"{where}/{k}", kind)
        elif isinstance(b, list):
            if not isinstance(a, list) or len(a) != len(b):
                problems.append(f"{where}: length {len(a) if isinstance(a, list) else '-'} != {len(b)}")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]", kind)
        elif isinstance(b, float) and isinstance(a, (int, float)) and not isinstance(a, bool):
            atol, rtol = GOLDEN_TOLERANCE[kind]
            d = abs(a - b)
            worst[kind] = max(worst[kind], d)
            if not d <= atol + rtol * abs(b):
                problems.append(f"{where}: {a!r} vs stored {b!r} (|diff| {d:.3g} > {atol:g} + {rtol:g}·|stored|)")
        elif a != b or type(a) is not type(b):
            problems.append(f"{where}: {a!r} vs stored {b!r} (must be identical)")

    for key in stored:
        if key not in new:
            problems.append(f"/{key}: missing from the regeneration")
            continue
        walk(new[key], stored[key], f"/{key}", "float32" if key == "float32" else "float64")
    for key in new:
        if key not in stored:
            problems.append(f"/{key}: not in the stored file")
    return problems, worst


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
            stored = open(path, "rb").read() if os.path.exists(path) else None
            if stored == data:
                print(f"same  {path}")
            elif stored is not None and rel == "gpt2_tiny_golden.json":
                problems, worst = golden_disagreements(json.loads(data), json.loads(stored))
                verdict = "agrees" if not problems else "DIFFERS"
                print(f"{verdict}  {path} (not byte-identical: this CPU's BLAS kernels round differently;"
                      f" worst float64 |diff| {worst['float64']:.3g}, float32 {worst['float32']:.3g})")
                for line in problems[:20]:
                    print(f"    {line}")
                status |= 1 if problems else 0
            else:
                print(f"DIFFERS  {path}")
                status |= 1
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"wrote {path} ({len(data)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
