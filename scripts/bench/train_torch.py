"""PyTorch eager reference for `cargo xtask bench train` and the GPU check.

The same Llama-style architecture codex trains (RMSNorm, rotary embeddings in the
half-split layout, SwiGLU, no biases, untied output), AdamW, random tokens, on
the CPU with every core or on a CUDA GPU (`--device cuda`), in f32 or with bf16
autocast over f32 master weights (`--precision bf16`, as codex's
`train.precision=bf16`). Prints one JSON line: tokens/s and the median step time
(on CUDA each timed step ends with a synchronize; the loss is read every step,
as codex's loop does). `--profile-out FILE` then runs three more steps under
torch.profiler and writes its operators and kernels, by self time on the device
(the CPU's where there is no GPU), to FILE.

    python scripts/bench/train_torch.py --layers 4 --d-model 256 --heads 8 \\
        --d-ff 688 --vocab 8192 --context 256 --batch 8 --steps 10
    python scripts/bench/train_torch.py --device cuda --precision bf16 --layers 12 \\
        --d-model 768 --heads 12 --d-ff 2048 --vocab 50304 --context 1024 --batch 8
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.RMSNorm(d, eps=eps)
        self.ln_2 = nn.RMSNorm(d, eps=eps)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, d_ff, bias=False)
        self.up = nn.Linear(d, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d, bias=False)

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        h = self.ln_1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))

        def rope(y):
            y1, y2 = y.chunk(2, dim=-1)
            return torch.cat([y1 * cos - y2 * sin, y2 * cos + y1 * sin], dim=-1)

        q, k = rope(q), rope(k)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        h = self.ln_2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, vocab, layers, d, heads, d_ff, context, theta=10000.0, eps=1e-5):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d, heads, d_ff, eps) for _ in range(layers)])
        self.ln_f = nn.RMSNorm(d, eps=eps)
        self.head = nn.Linear(d, vocab, bias=False)
        hd = d // heads
        inv = 1.0 / theta ** (torch.arange(0, hd, 2).float() / hd)
        ang = torch.arange(context).float()[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos()[None, None], persistent=False)
        self.register_buffer("sin", ang.sin()[None, None], persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx)
        cos, sin = self.cos[:, :, :t], self.sin[:, :, :t]
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return self.head(self.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("layers", 4), ("d-model", 256), ("heads", 8), ("d-ff", 688),
                          ("vocab", 8192), ("context", 256), ("batch", 8), ("steps", 20)]:
        ap.add_argument("--" + name, type=int, default=default)
    # Read by codex's side of the benchmark only (the peak MFU is computed against).
    ap.add_argument("--peak-gflops", type=float, default=None)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--profile-out", default=None)
    a = ap.parse_args()
    device = torch.device(a.device)
    if a.device == "cuda":
        # f32 means f32: no TF32 tensor-core matmuls (codex's f32 does not use them).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = Model(a.vocab, a.layers, a.d_model, a.heads, a.d_ff, a.context).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    autocast = torch.autocast(a.device, dtype=torch.bfloat16, enabled=a.precision == "bf16")

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    def step():
        x = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=g).to(device)
        with autocast:
            logits = model(x[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, a.vocab).float(), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(max(a.warmup, 1)):
        step()
    times = []
    for _ in range(a.steps):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    secs = statistics.median(times)
    tokens = a.batch * a.context
    row = {
        "impl": "pytorch-eager", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "device": a.device, "precision": a.precision,
        "tokens_per_second": tokens / secs, "step_ms": 1000 * secs,
        "params": sum(p.numel() for p in model.parameters()),
    }
    if a.device == "cuda":
        row["gpu"] = torch.cuda.get_device_name()
        row["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(row), flush=True)
    if a.profile_out:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if a.device == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            for _ in range(3):
                step()
            sync()
        by = "self_device_time_total" if a.device == "cuda" else "self_cpu_time_total"
        with open(a.profile_out, "w") as f:
            f.write(f"torch {torch.__version__}, {a.precision}, 3 steps, sorted by {by}\n")
            f.write(prof.key_averages().table(sort_by=by, row_limit=30, max_name_column_width=90))


if __name__ == "__main__":
    main()
