#!/usr/bin/env python3
"""A PyTorch yardstick for `make bench-compare`: the same training step sdlab's trainer takes, written the way a
PyTorch user would, timed on this CPU.  Not a dependency of sdlab: a speed reference measured in the same run.

  torch_yardstick.py METHOD [--threads T] [--steps S]

METHOD: topk-dense (Top-k codes, dense decoder product), topk-sparse (the k selected rows decoded with
embedding_bag, as sparse SAE trainers do), relu (ReLU + L1, dense).  Sizes: n_p = 768, n_q = 16,000, batch 256,
k = 32; Adam (lr 1e-3), unit-norm decoder columns (gradient projected, columns renormalised), tied
initialisation, no biases; bench-like inputs (10 of 1000 random directions per row, Exp(1) magnitudes).
Prints one line: METHOD samples/s; and on standard error the OpenBLAS kernels PyTorch's float32 products ran on
(Debian's PyTorch takes them from the system BLAS, whose kernel choice is the CPU's unless OPENBLAS_CORETYPE is
set: on a CPU that OpenBLAS does not know they are its SSE3 ones, slower, and the yardstick with them).
"""
import argparse
import ctypes
import sys
import time

import torch

P, Q, B, K, N_FEATURES = 768, 16000, 256, 32, 1000


def batches(gen, count):
    W = torch.randn(N_FEATURES, P, generator=gen) / P ** 0.5
    out = []
    for _ in range(count):
        idx = torch.randint(0, N_FEATURES, (B, 10), generator=gen)
        mag = torch.empty(B, 10).exponential_(1.0, generator=gen)
        out.append(torch.einsum("bf,bfp->bp", mag, W[idx]))
    return out


def step_fn(method, WE, WDt):
    def loss_of(x):
        z = x @ WE.t()
        if method == "relu":
            a = torch.relu(z)
            xhat = a @ WDt
            return ((xhat - x) ** 2).sum(1).mean() + 1e-3 * a.sum(1).mean()
        vals, idx = torch.topk(z, K, dim=1)
        vals = torch.relu(vals)
        if method == "topk-sparse":
            xhat = torch.nn.functional.embedding_bag(idx, WDt, per_sample_weights=vals, mode="sum")
        else:
            a = torch.zeros_like(z).scatter_(1, idx, vals)
            xhat = a @ WDt
        return ((xhat - x) ** 2).sum(1).mean()
    return loss_of


def blas_kernel():
    """The corename of the OpenBLAS this process loaded, or None (another BLAS, or none loaded)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line.split()[-1]}
    for path in sorted(paths):
        try:
            f = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        f.restype = ctypes.c_char_p
        return f().decode()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("method", choices=["topk-dense", "topk-sparse", "relu"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(1)
    WDt = torch.randn(Q, P, generator=gen)
    WDt /= WDt.norm(dim=1, keepdim=True)
    WE = WDt.clone()
    WE.requires_grad_(True)
    WDt.requires_grad_(True)
    opt = torch.optim.Adam([WE, WDt], lr=1e-3)
    loss_of = step_fn(a.method, WE, WDt)
    data = batches(gen, 8)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = loss_of(x)
        loss.backward()
        with torch.no_grad():  # the unit-norm constraint: project the gradient, then renormalise
            WDt.grad.sub_((WDt.grad * WDt).sum(1, keepdim=True) * WDt)
        opt.step()
        with torch.no_grad():
            WDt.div_(WDt.norm(dim=1, keepdim=True))

    for i in range(3):
        step(data[i % 8])
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(data[(i + 3) % 8])
    dt = time.perf_counter() - t0
    print("%s %.0f" % (a.method, a.steps * B / dt))
    print("# %s: PyTorch's float32 products on OpenBLAS kernels %s" % (a.method, blas_kernel() or "(no OpenBLAS loaded)"),
          file=sys.stderr)


if __name__ == "__main__":
    main()
