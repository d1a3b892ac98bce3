#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch peer of prefopt's DPO step benchmark (benchmarks/dpo_step.cpp): one DPO optimizer step
written in eager PyTorch the way TRL 0.12-0.15's DPOTrainer computes it.

    /usr/bin/python3 benchmarks/reference/pytorch_dpo_step.py --config small --workload equal \
        --reference precompute --steps 8 --warmup 1 --threads 2
    /usr/bin/python3 benchmarks/reference/pytorch_dpo_step.py --config small --workload real \
        --pairs pairs.jsonl --reference model --steps 8
    python3 benchmarks/reference/pytorch_dpo_step.py --device cuda --config 124m --workload equal \
        --reference precompute --steps 5 --warmup 2

Model: tests/reference/gpt2_torch.py (the golden-value oracle) with its "fused" op set, float32,
with Hugging Face GPT2Attention's eager padding mask added (causal mask by torch.where with
finfo.min, then + (1 - attention_mask) * finfo.min, softmax).

Per step, for a micro-batch of B pairs (pairs 4j..4j+3 of the file for step j, the same pairs
in the same order as the prefopt side):
  * collate as TRL does: 2B rows [prompt+chosen ...; prompt+rejected ...], flushed left and
    right-padded to the batch's longest row, attention_mask 1 on real tokens, loss_mask 1 on
    completion tokens (concatenated_forward after its flush-left);
  * policy logits [2B, T, V]; logits[:, :-1]; labels = input_ids[:, 1:] with prompt and padding set
    to 0; per-token log-probs = gather(log_softmax(logits), labels), zeroed off the loss mask,
    summed per row; chosen = rows [:B], rejected = rows [B:];
  * reference: "model" — a frozen copy of the initial weights, the same concatenated forward under
    torch.no_grad() after the policy's (TRL's default, compute_ref_log_probs); "precompute" — the
    untrained policy scored under no_grad over all pairs before training, batches of
    --precompute-batch pairs (TRL's precompute_ref_log_probs with ref_model=None; timed separately);
  * DPO sigmoid loss, beta 0.1, mean over pairs; TRL's reward metrics (detached);
  * loss.backward(); clip_grad_norm_(1.0); torch.optim.AdamW(lr, weight_decay=0).step();
    zero_grad(set_to_none=True).
TRL's mean-logits metrics (logits/chosen, logits/rejected: a boolean-mask copy of the completion
logits) are left out by default, as prefopt does not compute them; --logit-metrics adds them.

Device (--device cpu|cuda, default cpu): the policy (drawn on the CPU, so the same weights on
either device), the frozen reference, every batch's ids, attention mask and loss mask (collated on
the CPU and moved, as TRL's collator and Trainer do) and the precomputed reference log-probs live
on the device; on cuda, torch.cuda.synchronize() precedes every clock read, and the JSON adds the
GPU's name, PyTorch's peak allocated memory and torch.backends.cuda.matmul.allow_tf32. That flag
is left at PyTorch's default (False: fp32 matmuls are true fp32 SGEMM, no TF32), the precision of
prefopt's cuBLAS SGEMM (CUBLAS_DEFAULT_MATH). --world-size > 1 is CPU only (gloo).
--tf32 (cuda only) sets it True, the peer of prefopt's --tf32 (set_cuda_tf32: CUBLAS_TF32_TENSOR_OP_MATH).

Timing: wall clock after every step; the measured time is from the end of the last warm-up step to
the end of the last measured step. tokens/s counts real (unpadded) tokens; padded_fraction =
1 - real / (2B x T_max) over the measured steps. Peak RSS from getrusage. Prints one JSON line.

Data parallel (--world-size N > 1): N processes (torch.multiprocessing.spawn) joined by
torch.distributed's gloo backend over loopback, the policy wrapped in DistributedDataParallel
(bucketed gradient all-reduce overlapped with the backward pass, gradients averaged); --batch is
the GLOBAL batch and rank r takes pairs r*B/N .. (r+1)*B/N - 1 of each step's batch; every rank
precomputes the reference for all pairs (untimed). Rank 0 prints the JSON line. The peer of
prefopt's bench_distributed (benchmarks/distributed.cpp).

Threads: Debian's python3-torch calls the system libblas.so.3; with OpenBLAS (libopenblas0-pthread)
GEMMs run on OpenBLAS's own pthreads, so OPENBLAS_NUM_THREADS is set to --threads before torch is
imported (as benchmarks/reference/pytorch_gpt2_step.py does).
"""
import argparse
import contextlib
import copy
import json
import math
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
    ap.add_argument("--workload", choices=("equal", "real"), default="equal")
    ap.add_argument("--reference", choices=("precompute", "model"), default="precompute")
    ap.add_argument("--pairs", help="id pairs file of `prefopt pairs --out` (workload real)")
    ap.add_argument("--steps", type=int, default=8, help="measured optimizer steps")
    ap.add_argument("--warmup", type=int, default=1, help="optimizer steps before the measured ones")
    ap.add_argument("--batch", type=int, default=4, help="pairs per step")
    ap.add_argument("--prompt-len", type=int, help="equal workload: prompt tokens (default 64 small, 128 124m)")
    ap.add_argument("--completion-len", type=int, help="equal workload: completion tokens (default 192 / 384)")
    ap.add_argument("--precompute-batch", type=int, default=None,
                    help="pairs per reference precompute batch (default --batch, TRL's default)")
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--logit-metrics", action="store_true", help="also compute TRL's mean-logits metrics")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--world-size", type=int, default=1, help="DDP processes (gloo); --batch is then the global batch")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--tf32", action="store_true", help="cuda: TF32 matmuls (torch.backends.cuda.matmul.allow_tf32 = True)")
    ap.add_argument("--bf16", action="store_true",
                    help="cuda: the model's matmuls under torch.autocast(bfloat16), logits back to float for the "
                         "log-softmax (the peer of prefopt's --bf16: bfloat16 tensor-core GEMMs, float elsewhere)")
    a = ap.parse_args()
    if a.workload == "real" and not a.pairs:
        ap.error("--workload real needs --pairs")
    if a.steps < 1 or a.warmup < 1 or a.batch < 1:
        ap.error("--steps, --warmup and --batch must be >= 1")
    if a.world_size < 1 or a.batch % a.world_size != 0:
        ap.error("--world-size must be >= 1 and divide --batch")
    if a.device == "cuda" and a.world_size > 1:
        ap.error("--world-size > 1 runs on the CPU only (gloo); use --device cpu")
    return a


args = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # must precede loading libopenblas
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tests", "reference"))


def bf16_autocast():
    """torch.autocast(bfloat16) under --bf16, else nothing (autocast, even disabled, probes CUDA)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
import gpt2_torch  # noqa: E402
from peer_common import blas_summary, cuda_summary  # noqa: E402


# ---- model ---------------------------------------------------------------------------------------

def masked_causal_attention(qkv, n_head, additive_mask):
    """GPT2Attention._attn (eager) with an attention mask: qkv [B, T, 3C] -> [B, T, C]."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    hd = C // n_head
    q, k, v = qkv.split(C, dim=2)
    q = q.view(B, T, n_head, hd).transpose(1, 2)
    k = k.view(B, T, n_head, hd).transpose(1, 2)
    v = v.view(B, T, n_head, hd).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    causal = torch.ones(T, T, dtype=torch.bool, device=scores.device).tril()
    scores = torch.where(causal, scores, torch.finfo(scores.dtype).min)
    scores = scores + additive_mask  # [B, 1, 1, T]: 0 on real keys, finfo.min on padding
    probs = torch.softmax(scores, dim=-1)
    return (probs @ v).transpose(1, 2).contiguous().view(B, T, C)


@contextlib.contextmanager
def attention_mask(mask):
    """Runs gpt2_torch's model with the padding mask `mask` [B, T] (1 = real token)."""
    additive = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    saved = gpt2_torch.causal_self_attention
    gpt2_torch.causal_self_attention = lambda qkv, n_head: masked_causal_attention(qkv, n_head, additive)
    try:
        yield
    finally:
        gpt2_torch.causal_self_attention = saved


class Gpt2Parameters(torch.nn.Module):
    """Holds the parameters (HF names, '.' spelled '__' as nn.Module requires); forward() is the
    concatenated forward, so that DistributedDataParallel can wrap it."""

    def __init__(self, params, requires_grad=True, config=None):
        super().__init__()
        self.hf = {}
        self.config = config
        for name, t in params.items():
            p = torch.nn.Parameter(t, requires_grad=requires_grad)
            self.register_parameter(name.replace(".", "__"), p)
            self.hf[name] = p

    def forward(self, ids, attn, loss_mask, num_examples):
        return concatenated_forward(self.hf, self.config, ids, attn, loss_mask, num_examples)


# ---- data ----------------------------------------------------------------------------------------

def load_pairs(config, n):
    if args.workload == "equal":
        P = args.prompt_len or (64 if args.config == "small" else 128)
        Cn = args.completion_len or (192 if args.config == "small" else 384)
        gen = torch.Generator().manual_seed(args.seed + 1)
        V = config["vocab_size"]
        return [(torch.randint(0, V, (P,), generator=gen).tolist(), torch.randint(0, V, (Cn,), generator=gen).tolist(),
                 torch.randint(0, V, (Cn,), generator=gen).tolist()) for _ in range(n)]
    pairs = []
    with open(args.pairs) as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            pairs.append((j["prompt_ids"], j["chosen_ids"], j["rejected_ids"]))
            if len(pairs) == n:
                break
    if len(pairs) < n:
        raise SystemExit(f"{args.pairs} has {len(pairs)} pairs, the run needs {n}")
    return pairs


def collate(pairs):
    """TRL's concatenated batch after concatenated_forward's flush-left: rows [chosen...; rejected...]."""
    rows = [(p, c) for p, c, _ in pairs] + [(p, r) for p, _, r in pairs]
    T = max(len(p) + len(c) for p, c in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)  # padding_value 0 (TRL pads input ids with pad_token_id)
    attn = torch.zeros(len(rows), T, dtype=torch.long)
    loss_mask = torch.zeros(len(rows), T, dtype=torch.long)
    real = 0
    for i, (p, c) in enumerate(rows):
        L = len(p) + len(c)
        ids[i, :L] = torch.tensor(p + c)
        attn[i, :L] = 1
        loss_mask[i, len(p):L] = 1
        real += L
    return ids, attn, loss_mask, real, len(rows) * T


def concatenated_forward(params, config, ids, attn, loss_mask, num_examples):
    with attention_mask(attn), bf16_autocast():
        logits = gpt2_torch.forward_logits(params, config, ids, ops="fused")
    logits = logits[:, :-1, :].float()  # bfloat16 under --bf16; the log-softmax runs in float either way
    labels = ids[:, 1:].clone()
    lm = loss_mask[:, 1:].bool()
    labels[~lm] = 0
    per_token_logps = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    per_token_logps[~lm] = 0
    all_logps = per_token_logps.sum(-1)
    out = {"chosen_logps": all_logps[:num_examples], "rejected_logps": all_logps[num_examples:]}
    if args.logit_metrics:
        out["mean_chosen_logits"] = logits[:num_examples][lm[:num_examples]].mean()
        out["mean_rejected_logits"] = logits[num_examples:][lm[num_examples:]].mean()
    return out


def dpo_loss(pc, pr, rc, rr, beta):
    logits = (pc - pr) - (rc - rr)
    losses = -F.logsigmoid(beta * logits)  # label_smoothing 0
    chosen_rewards = beta * (pc - rc).detach()
    rejected_rewards = beta * (pr - rr).detach()
    return losses, chosen_rewards, rejected_rewards


def sync():
    """Waits for the device's queued work, so that the clock read next sees it finished."""
    if args.device == "cuda":
        torch.cuda.synchronize()


def main(rank=0, world=1):
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29517", rank=rank, world_size=world)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("pytorch_dpo_step.py: --device cuda but torch.cuda.is_available() is False")
    if (args.tf32 or args.bf16) and args.device != "cuda":
        raise SystemExit("pytorch_dpo_step.py: --tf32 and --bf16 need --device cuda")
    if args.tf32 and args.bf16:
        raise SystemExit("pytorch_dpo_step.py: --tf32 and --bf16 both set the matmul precision: choose one")
    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = dict(gpt2_torch.CONFIGS[args.config])
    GB, W, K = args.batch, args.warmup, args.steps
    B = GB // world  # this rank's pairs per step
    n_pairs = GB * (W + K)
    pairs = load_pairs(config, n_pairs)
    batches = [pairs[j * GB + rank * B:j * GB + (rank + 1) * B] for j in range(W + K)]
    gen = torch.Generator().manual_seed(args.seed)
    model = Gpt2Parameters({k: v.to(dev) for k, v in gpt2_torch.init_parameters(config, gen, random_biases=False).items()},
                           config=config)
    params = model.hf
    policy = model
    if world > 1:
        policy = torch.nn.parallel.DistributedDataParallel(model)
    ref_params = None
    if args.reference == "model":
        ref_model = Gpt2Parameters(copy.deepcopy({k: v.detach() for k, v in params.items()}), requires_grad=False)
        ref_params = ref_model.hf
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)

    precompute_s = None
    ref_logps = None
    if args.reference == "precompute":
        pb = args.precompute_batch or B
        sync()
        t0 = time.perf_counter()
        ref_logps = []
        with torch.no_grad():
            for s in range(0, n_pairs, pb):
                chunk = pairs[s:s + pb]
                ids, attn, lmask = (t.to(dev) for t in collate(chunk)[:3])
                out = concatenated_forward(params, config, ids, attn, lmask, len(chunk))
                for c, r in zip(out["chosen_logps"].tolist(), out["rejected_logps"].tolist()):
                    ref_logps.append((c, r))
        sync()
        precompute_s = time.perf_counter() - t0

    def train_step(j):
        ids, attn, lmask, real, padded = collate(batches[j])
        ids, attn, lmask = ids.to(dev), attn.to(dev), lmask.to(dev)
        out = policy(ids, attn, lmask, B)
        if ref_params is not None:
            with torch.no_grad():
                ref = concatenated_forward(ref_params, config, ids, attn, lmask, B)
            rc, rr = ref["chosen_logps"], ref["rejected_logps"]
        else:
            rc = torch.tensor([ref_logps[j * GB + rank * B + k][0] for k in range(B)], device=dev)
            rr = torch.tensor([ref_logps[j * GB + rank * B + k][1] for k in range(B)], device=dev)
        losses, chosen_rewards, rejected_rewards = dpo_loss(out["chosen_logps"], out["rejected_logps"], rc, rr, args.beta)
        loss = losses.mean()
        metrics = {"rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean().item(),
                   "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
                   "logps/chosen": out["chosen_logps"].detach().mean().item()}
        if args.logit_metrics:
            metrics["logits/chosen"] = out["mean_chosen_logits"].detach().item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item(), real, padded

    stamps, real_tokens, padded_tokens, longest = [], 0, 0, 0
    loss_last = None
    for j in range(W + K):
        loss_last, real, padded = train_step(j)
        sync()
        stamps.append(time.perf_counter())
        if j >= W:
            real_tokens += real
            padded_tokens += padded
        longest = max(longest, padded // (2 * B))
    if world > 1:
        dist.destroy_process_group()
        if rank != 0:
            return
    measured_s = stamps[-1] - stamps[W - 1]
    step_s = [stamps[i] - stamps[i - 1] for i in range(W, W + K)]
    blas_info, blas_libs = blas_summary()
    result = {
        "name": "pytorch",
        "bench": "dpo_step",
        "device": args.device,
        "config": args.config,
        "workload": args.workload,
        "reference": args.reference,
        "threads": args.threads,
        "world_size": world,
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_pairs": GB,
        "per_rank_batch_pairs": B,
        "warmup_steps": W,
        "measured_steps": K,
        "pairs_per_s": K * GB / measured_s,
        "tokens_per_s": real_tokens * world / measured_s,  # rank 0's real tokens x ranks (equal lengths)
        "step_ms": 1000.0 * measured_s / K,
        "step_ms_median": 1000.0 * statistics.median(step_s),
        "measured_tokens": real_tokens,
        "padded_tokens": padded_tokens,
        "padded_fraction": 1.0 - real_tokens / padded_tokens,
        "longest_sequence": longest,
    }
    if precompute_s is not None:
        result["precompute_s"] = precompute_s
        result["precompute_pairs_per_s"] = n_pairs / precompute_s
        result["precompute_batch_pairs"] = args.precompute_batch or B
    result.update({
        "loss_last": loss_last,
        "logit_metrics": args.logit_metrics,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "loadavg_1m_end": os.getloadavg()[0],
        "torch": torch.__version__,
        "blas": blas_info,
        "blas_library": ",".join(blas_libs),
    })
    if args.device == "cuda":
        result.update(cuda_summary())
        result["autocast_bf16"] = bool(args.bf16)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if args.world_size > 1:
        import torch.multiprocessing
        torch.multiprocessing.spawn(main, args=(args.world_size,), nprocs=args.world_size)
    else:
        main()
