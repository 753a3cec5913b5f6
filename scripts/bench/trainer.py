"""PyTorch reference for scripts/bench/trainer.sh: trains, on the CPU, the architecture mbd-finetune
trains (llama: RMSNorm, RoPE on adjacent pairs, grouped-query causal attention, SwiGLU, untied
output), with the same shapes, batch and sequence length, AdamW and gradient clipping at 1.0, in
float32, on random tokens (the speed does not depend on them). It prints one line:
tokens=N seconds=S tokens_per_second=R, counting the predicted tokens (batch x ctx per step) from
before the first step, as mbd-finetune's tokens_per_second does.

Usage: python3 trainer.py --vocab V --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 192
       --batch 8 --ctx 256 --steps 20 --threads 2
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope(x, cos, sin):
    # x [B, H, T, D]: rotate the adjacent pairs (x_2i, x_2i+1), GGML_ROPE_TYPE_NORM.
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, d, heads, kv_heads, ff):
        super().__init__()
        self.h, self.kv, self.hd = heads, kv_heads, d // heads
        self.attn_norm, self.ffn_norm = RMSNorm(d), RMSNorm(d)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.v = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, ff, bias=False)
        self.up = nn.Linear(d, ff, bias=False)
        self.down = nn.Linear(ff, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.q(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        g = self.h // self.kv
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        a = s.softmax(-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, vocab, d, layers, heads, kv_heads, ff, ctx, base=10000.0):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads, kv_heads, ff) for _ in range(layers))
        self.norm = RMSNorm(d)
        self.out = nn.Linear(d, vocab, bias=False)
        hd = d // heads
        ang = torch.arange(ctx).float()[:, None] * base ** (-torch.arange(0, hd, 2).float() / hd)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def forward(self, t):
        T = t.shape[1]
        x = self.emb(t)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T])
        return self.out(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("vocab", 1024), ("embd", 64), ("layers", 2), ("heads", 4), ("kv-heads", 2),
                          ("ff", 192), ("batch", 8), ("ctx", 256), ("steps", 20), ("threads", 1)]:
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = Llama(a.vocab, a.embd, a.layers, a.heads, a.kv_heads, a.ff, a.ctx)
    params = sum(x.numel() for x in m.parameters())
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.0)
    data = torch.randint(0, a.vocab, (a.steps, a.batch, a.ctx + 1))
    start = time.perf_counter()
    for s in range(a.steps):
        lr = 3e-3 * min(1.0, (s + 1) / max(1, a.steps // 20)) * 0.5 * (1 + math.cos(math.pi * s / a.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        w = data[s]
        loss = F.cross_entropy(m(w[:, :-1]).reshape(-1, a.vocab), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    secs = time.perf_counter() - start
    tokens = a.steps * a.batch * a.ctx
    print(f"tokens={tokens} seconds={secs:.3f} tokens_per_second={tokens / secs:.1f} params={params} loss={loss.item():.3f}")


if __name__ == "__main__":
    main()
