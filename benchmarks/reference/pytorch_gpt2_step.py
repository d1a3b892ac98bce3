#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch peer of prefopt's model benchmark: one GPT-2 training step and one scoring pass.

    /usr/bin/python3 benchmarks/reference/pytorch_gpt2_step.py --config small --seq-len 256 --batch 4 \
        --steps 5 --warmup 1 --threads 2
    python3 benchmarks/reference/pytorch_gpt2_step.py --device cuda --config 124m --seq-len 512 --batch 8

Straightforward eager PyTorch, float32, the architecture of tests/reference/gpt2_torch.py with its
"fused" op set (F.layer_norm, F.gelu tanh, addmm, eager causal attention, tied lm_head). Per step:
  train:   logits = model(ids [B, T]); logp = log_softmax(logits).gather(targets [B, T]);
           loss = sum(w * logp) with random w; loss.backward(); grads zeroed with set_to_none=True
  forward: the same up to the loss, under torch.no_grad()
Prints one JSON line with medians over the timed steps (warm-up steps are not timed).

Device (--device cpu|cuda, default cpu): the parameters are drawn on the CPU (the same values on
either device) and moved to the device with the ids, targets and weights; on cuda every clock read
is preceded by torch.cuda.synchronize(), and the JSON adds the GPU's name, the peak memory
allocated by PyTorch and torch.backends.cuda.matmul.allow_tf32. That flag is left at PyTorch's
default (False since 1.12: fp32 matmuls run as true fp32 SGEMM, not TF32) — the precision of
prefopt's cuBLAS SGEMM (CUBLAS_DEFAULT_MATH), so both sides do the same arithmetic.
--tf32 (cuda only) sets it True, the peer of prefopt's --tf32 (set_cuda_tf32: CUBLAS_TF32_TENSOR_OP_MATH).

Threads: Debian's python3-torch calls the system libblas.so.3 (BLAS_INFO=generic). With OpenBLAS
(libopenblas0-pthread) GEMMs run on OpenBLAS's own pthreads, which torch.set_num_threads does not
govern, so OPENBLAS_NUM_THREADS is set to --threads before torch is imported.
"""
import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=("small", "124m"), default="small")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps before each measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--tf32", action="store_true", help="cuda: TF32 matmuls (torch.backends.cuda.matmul.allow_tf32 = True)")
    ap.add_argument("--bf16", action="store_true",
                    help="cuda: the model's matmuls under torch.autocast(bfloat16), logits back to float for the "
                         "log-softmax (the peer of prefopt's --bf16: bfloat16 tensor-core GEMMs, float elsewhere)")
    return ap.parse_args()


args = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # must precede loading libopenblas
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

import torch  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tests", "reference"))


def bf16_autocast():
    """torch.autocast(bfloat16) under --bf16, else nothing (autocast, even disabled, probes CUDA)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
import gpt2_torch  # noqa: E402
from peer_common import blas_summary, cuda_summary  # noqa: E402


class Gpt2Parameters(torch.nn.Module):
    """Holds the parameters (HF names, '.' spelled '__' as nn.Module requires) for zero_grad()."""

    def __init__(self, params):
        super().__init__()
        self.hf = {}
        for name, t in params.items():
            p = torch.nn.Parameter(t)
            self.register_parameter(name.replace(".", "__"), p)
            self.hf[name] = p


def sync():
    """Waits for the device's queued work, so that the clock read next sees it finished."""
    if args.device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(n=1024, reps=20):
    if args.device == "cuda":
        reps = 200  # ~40 us per product on a current GPU: more of them per clock read
    a, b = torch.randn(n, n, device=args.device), torch.randn(n, n, device=args.device)
    for _ in range(3):
        a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def main():
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("pytorch_gpt2_step.py: --device cuda but torch.cuda.is_available() is False")
    if (args.tf32 or args.bf16) and args.device != "cuda":
        raise SystemExit("pytorch_gpt2_step.py: --tf32 and --bf16 need --device cuda")
    if args.tf32 and args.bf16:
        raise SystemExit("pytorch_gpt2_step.py: --tf32 and --bf16 both set the matmul precision: choose one")
    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = dict(gpt2_torch.CONFIGS[args.config])
    if args.seq_len > config["n_positions"]:
        raise SystemExit(f"--seq-len {args.seq_len} exceeds n_positions {config['n_positions']}")
    gen = torch.Generator().manual_seed(args.seed)
    dev = torch.device(args.device)
    model = Gpt2Parameters({k: v.to(dev) for k, v in gpt2_torch.init_parameters(config, gen, random_biases=False).items()})
    params = model.hf
    B, T, V = args.batch, args.seq_len, config["vocab_size"]
    ids = torch.randint(0, V, (B, T), generator=gen).to(dev)
    targets = torch.randint(0, V, (B, T), generator=gen).to(dev)
    weights = torch.randn(B, T, generator=gen).to(dev)

    def train_step():
        model.zero_grad(set_to_none=True)
        with bf16_autocast():
            logits = gpt2_torch.forward_logits(params, config, ids, ops="fused")
        loss = (weights * gpt2_torch.target_logps(logits.float(), targets)).sum()
        loss.backward()
        return loss.item()

    def forward_step():
        with torch.no_grad():
            with bf16_autocast():
                logits = gpt2_torch.forward_logits(params, config, ids, ops="fused")
            return (weights * gpt2_torch.target_logps(logits.float(), targets)).sum().item()

    def measure(step):
        for _ in range(args.warmup):
            step()
        times = []
        for _ in range(args.steps):
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    gflops = matmul_gflops()
    train_s = measure(train_step)
    forward_s = measure(forward_step)
    blas_info, blas_libs = blas_summary()
    result = {
        "impl": "pytorch",
        "device": args.device,
        "torch": torch.__version__,
        "threads": args.threads,
        "config": args.config,
        "params": sum(p.numel() for p in model.parameters()),
        "seq_len": T,
        "batch": B,
        "steps": args.steps,
        "warmup": args.warmup,
        "train_tokens_per_s": B * T / train_s,
        "train_step_s_median": train_s,
        "forward_tokens_per_s": B * T / forward_s,
        "forward_step_s_median": forward_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "blas": blas_info,
        "blas_library": ",".join(blas_libs),
        "matmul_gflops": gflops,
    }
    if args.device == "cuda":
        result.update(cuda_summary())
        result["autocast_bf16"] = bool(args.bf16)
    print(json.dumps(result), flush=True)
    if args.device == "cpu" and gflops < 30:
        print(f"warning: 1024x1024 fp32 matmul at {gflops:.1f} GFLOP/s: torch is probably on the reference "
              "BLAS (check `update-alternatives --display libblas.so.3-x86_64-linux-gnu`; install "
              "libopenblas0-pthread)", file=sys.stderr)


if __name__ == "__main__":
    main()
