# SPDX-License-Identifier: MIT
"""What both PyTorch peers (pytorch_gpt2_step.py, pytorch_dpo_step.py) report about the torch they
run on: the BLAS behind CPU matmuls and, on a GPU, the device and the fp32 matmul precision in
force. Import it after torch (the peers set OPENBLAS_NUM_THREADS before importing torch)."""
import os
import re

import torch


def blas_summary():
    """(what torch.__config__.show() says about BLAS, the BLAS libraries actually mapped in)."""
    match = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    info = match.group(1) if match else "unknown"
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "blas" in os.path.basename(path):
                libs.add(os.path.realpath(path))
    return f"BLAS_INFO={info}", sorted(libs)


def cuda_summary():
    """The GPU and the fp32 matmul precision in force (each field guarded: a renamed API must not
    lose the measurement)."""
    fields = {
        "gpu": lambda: torch.cuda.get_device_name(),
        "cuda": lambda: torch.version.cuda,
        "allow_tf32": lambda: torch.backends.cuda.matmul.allow_tf32,
        "matmul_fp32_precision": lambda: str(getattr(torch.backends.cuda.matmul, "fp32_precision", "n/a")),
        "float32_matmul_precision": lambda: torch.get_float32_matmul_precision(),
        "gpu_max_memory_allocated_mib": lambda: torch.cuda.max_memory_allocated() / 1048576.0,
    }
    out = {}
    for key, get in fields.items():
        try:
            out[key] = get()
        except Exception as e:  # noqa: BLE001
            out[key] = f"unavailable: {e}"
    return out
