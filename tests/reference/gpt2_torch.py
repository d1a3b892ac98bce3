# SPDX-License-Identifier: MIT
"""GPT-2 (Hugging Face GPT2LMHeadModel) forward pass in plain torch ops.

This is prefopt's independent oracle: it does not import transformers. It follows
transformers' modeling_gpt2.py (eager attention, no dropout) operation by operation:

    h = wte[ids] + wpe[0..T)
    per block:  a = ln_1(h); qkv = a @ c_attn.W + c_attn.b        (Conv1D: W stored [in, out])
                q, k, v = split(qkv, n_embd); head j = columns [j*hd, (j+1)*hd)
                att = softmax(mask_causal(q k^T / sqrt(hd))) @ v; merge heads
                h = h + (att @ attn.c_proj.W + attn.c_proj.b)
                m = gelu_new(ln_2(h) @ c_fc.W + c_fc.b)
                h = h + (m @ mlp.c_proj.W + mlp.c_proj.b)
    h = ln_f(h); logits = h @ wte^T                                 (lm_head tied to wte)

Parameters live in a plain dict keyed by Hugging Face names without the "transformer."
prefix ("wte.weight", "h.0.attn.c_attn.weight", ...), shapes exactly as HF stores them.

Two op sets compute the same function:
  ops="reference"  LayerNorm and gelu_new written out from their formulas (the oracle);
  ops="fused"      torch.nn.functional.layer_norm / gelu(approximate="tanh") / addmm, the
                   idiomatic fast eager path, used by the benchmark peer. gpt2_reference.py
                   checks that both agree.
"""
import math

import torch
import torch.nn.functional as F

LAYER_TENSORS = (
    # (suffix, shape as a function of (C, F)) in HF state_dict order
    ("ln_1.weight", lambda C, Fw: [C]),
    ("ln_1.bias", lambda C, Fw: [C]),
    ("attn.c_attn.weight", lambda C, Fw: [C, 3 * C]),
    ("attn.c_attn.bias", lambda C, Fw: [3 * C]),
    ("attn.c_proj.weight", lambda C, Fw: [C, C]),
    ("attn.c_proj.bias", lambda C, Fw: [C]),
    ("ln_2.weight", lambda C, Fw: [C]),
    ("ln_2.bias", lambda C, Fw: [C]),
    ("mlp.c_fc.weight", lambda C, Fw: [C, Fw]),
    ("mlp.c_fc.bias", lambda C, Fw: [Fw]),
    ("mlp.c_proj.weight", lambda C, Fw: [Fw, C]),
    ("mlp.c_proj.bias", lambda C, Fw: [C]),
)

CONFIGS = {
    # the benchmark configurations (prefopt::Gpt2Config::small() / gpt2_124m())
    "small": dict(n_layer=4, n_head=4, n_embd=256, n_positions=1024, vocab_size=50257),
    "124m": dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257),
}


def mlp_width(config):
    n_inner = config.get("n_inner")
    return n_inner if n_inner else 4 * config["n_embd"]


def parameter_shapes(config):
    """[(name, shape)] in Hugging Face state_dict order (the order of prefopt's ParameterTable)."""
    C, Fw, V, P = config["n_embd"], mlp_width(config), config["vocab_size"], config["n_positions"]
    out = [("wte.weight", [V, C]), ("wpe.weight", [P, C])]
    for layer in range(config["n_layer"]):
        for suffix, shape in LAYER_TENSORS:
            out.append((f"h.{layer}.{suffix}", shape(C, Fw)))
    out += [("ln_f.weight", [C]), ("ln_f.bias", [C])]
    return out


def init_parameters(config, generator, dtype=torch.float32, random_biases=True):
    """GPT-2 initialisation, drawn in parameter_shapes() order from `generator`.

    Weights and embeddings ~ N(0, initializer_range); the residual projections (attn.c_proj and
    mlp.c_proj weights) ~ N(0, initializer_range / sqrt(2 n_layer)) as HF's _init_weights does.
    HF zeroes biases and sets LayerNorm to (1, 0); with random_biases=True biases ~ N(0, 0.02),
    LayerNorm weight ~ 1 + N(0, 0.1) and bias ~ N(0, 0.02), so that every gradient is non-trivial.
    """
    std = config.get("initializer_range", 0.02)
    resid_std = std / math.sqrt(2 * config["n_layer"])
    params = {}
    for name, shape in parameter_shapes(config):
        if name.startswith("ln_") or ".ln_" in name:  # LayerNorm
            if name.endswith(".weight"):
                t = (1.0 + 0.1 * torch.randn(shape, generator=generator, dtype=dtype)
                     if random_biases else torch.ones(shape, dtype=dtype))
            else:
                t = (0.02 * torch.randn(shape, generator=generator, dtype=dtype)
                     if random_biases else torch.zeros(shape, dtype=dtype))
        elif name.endswith("c_proj.weight"):  # residual projections
            t = torch.randn(shape, generator=generator, dtype=dtype) * resid_std
        elif name.endswith(".weight"):  # wte, wpe, c_attn, c_fc
            t = torch.randn(shape, generator=generator, dtype=dtype) * std
        else:  # Conv1D biases
            t = (0.02 * torch.randn(shape, generator=generator, dtype=dtype)
                 if random_biases else torch.zeros(shape, dtype=dtype))
        params[name] = t.contiguous()
    return params


# ---- ops ------------------------------------------------------------------------------------------

def layer_norm_reference(x, weight, bias, eps):
    # torch.nn.LayerNorm: biased variance over the last dimension, eps inside the square root
    mean = x.mean(dim=-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=-1, keepdim=True)
    return centered / torch.sqrt(var + eps) * weight + bias


def gelu_new_reference(x):
    # transformers.activations.NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, weight, bias):
    # transformers.pytorch_utils.Conv1D: y = x @ W + b with W stored [in, out]
    return x @ weight + bias


def conv1d_fused(x, weight, bias):
    shape = x.shape[:-1] + (weight.shape[1],)
    return torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight).view(shape)


def causal_self_attention(qkv, n_head):
    """qkv [B, T, 3C] -> [B, T, C]; eager attention as GPT2Attention._attn computes it."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    hd = C // n_head
    q, k, v = qkv.split(C, dim=2)
    # [B, T, C] -> [B, H, T, hd]: head j owns columns [j*hd, (j+1)*hd)
    q = q.view(B, T, n_head, hd).transpose(1, 2)
    k = k.view(B, T, n_head, hd).transpose(1, 2)
    v = v.view(B, T, n_head, hd).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    causal = torch.ones(T, T, dtype=torch.bool, device=qkv.device).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = probs @ v  # [B, H, T, hd]
    return out.transpose(1, 2).contiguous().view(B, T, C)


def forward_hidden(params, config, ids, ops="reference"):
    """ids [B, T] (int64) -> final hidden states after ln_f, [B, T, C]."""
    if ops == "reference":
        ln, gelu, linear = layer_norm_reference, gelu_new_reference, conv1d
    elif ops == "fused":
        def ln(x, w, b, eps):
            return F.layer_norm(x, (x.shape[-1],), w, b, eps)

        def gelu(x):
            return F.gelu(x, approximate="tanh")

        linear = conv1d_fused
    else:
        raise ValueError(f"unknown ops {ops!r}")
    eps = config.get("layer_norm_epsilon", 1e-5)
    B, T = ids.shape
    if T > config["n_positions"]:
        raise ValueError(f"sequence length {T} exceeds n_positions {config['n_positions']}")
    pos = torch.arange(T, device=ids.device)
    h = params["wte.weight"][ids] + params["wpe.weight"][pos].unsqueeze(0)
    for layer in range(config["n_layer"]):
        p = lambda s: params[f"h.{layer}.{s}"]  # noqa: E731
        a = ln(h, p("ln_1.weight"), p("ln_1.bias"), eps)
        qkv = linear(a, p("attn.c_attn.weight"), p("attn.c_attn.bias"))
        att = causal_self_attention(qkv, config["n_head"])
        h = h + linear(att, p("attn.c_proj.weight"), p("attn.c_proj.bias"))
        m = ln(h, p("ln_2.weight"), p("ln_2.bias"), eps)
        m = gelu(linear(m, p("mlp.c_fc.weight"), p("mlp.c_fc.bias")))
        h = h + linear(m, p("mlp.c_proj.weight"), p("mlp.c_proj.bias"))
    return ln(h, params["ln_f.weight"], params["ln_f.bias"], eps)


def forward_logits(params, config, ids, ops="reference"):
    """ids [B, T] -> logits [B, T, vocab]; lm_head is tied to wte (logits = h wte^T)."""
    h = forward_hidden(params, config, ids, ops)
    return h @ params["wte.weight"].t()


def target_logps(logits, targets):
    """log_softmax(logits)[..., target] for every position; logits [..., V], targets [...]."""
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def next_token_logps(params, config, tokens, ops="reference"):
    """One sequence (1-D LongTensor, length L) -> (token_logps [L-1], logits [L, V]).

    token_logps[t] = log_softmax(logits[t])[tokens[t+1]].
    """
    logits = forward_logits(params, config, tokens.unsqueeze(0), ops)[0]
    return target_logps(logits[:-1], tokens[1:]), logits
