"""Fine-tunes MiniLM and the semantic head together: LoRA on the encoder, an MLP head on top.

Used by scripts/train_safety_head.py --finetune. The encoder's own weights stay frozen; a
rank-r update of every attention and feed-forward projection (safety/adapter.TARGETS) and the
head are trained with cross-entropy on the normalised training prompts, exactly as serving
embeds them (mean pooling, L2 normalisation). Returns the head's numpy layers and the adapter
in the form safety/head.py and safety/adapter.py read.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np


def finetune(model, texts: list[str], labels: np.ndarray, *, n_classes: int, hidden: int = 512, rank: int = 8,
             alpha: float = 16.0, epochs: int = 5, batch_size: int = 32, lr: float = 5e-4, head_lr: float = 1e-3,
             label_smoothing: float = 0.0, seed: int = 0, log=print):
    """model: a SentenceTransformer (modified in place: its encoder ends up with the adapter merged)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from safety.adapter import merge_adapter, target_modules

    torch.manual_seed(seed)
    random.seed(seed)
    bert = model[0].auto_model
    tokenizer = model.tokenizer
    bert.train()
    for p in bert.parameters():
        p.requires_grad_(False)

    class LoRALinear(nn.Module):
        def __init__(self, base: nn.Linear):
            super().__init__()
            self.base = base
            self.a = nn.Parameter(torch.empty(rank, base.in_features))
            self.b = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

    paths = target_modules(bert)
    wrapped = {}
    for path in paths:
        parent_path, _, name = path.rpartition(".")
        parent = bert.get_submodule(parent_path)
        wrapped[path] = LoRALinear(getattr(parent, name))
        setattr(parent, name, wrapped[path])

    dim = bert.config.hidden_size
    head = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    lora_params = [p for m in wrapped.values() for p in (m.a, m.b)]
    optim = torch.optim.AdamW([{"params": lora_params, "lr": lr}, {"params": head.parameters(), "lr": head_lr}],
                              weight_decay=0.01)
    steps = epochs * math.ceil(len(texts) / batch_size)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    y_all = torch.as_tensor(labels, dtype=torch.long)
    order = list(range(len(texts)))
    for epoch in range(epochs):
        random.shuffle(order)
        t0, total, correct = time.perf_counter(), 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            tok = tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=96,
                            return_tensors="pt")
            out = bert(**tok).last_hidden_state
            mask = tok["attention_mask"].unsqueeze(-1).float()
            emb = F.normalize((out * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
            logits = head(emb)
            y = y_all[idx]
            loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        log(f"epoch {epoch + 1}/{epochs}: loss {total / len(texts):.4f}, train accuracy {correct / len(texts):.3f}, "
            f"{time.perf_counter() - t0:.0f} s")

    bert.eval()
    adapter = {}
    for path, m in wrapped.items():  # put the plain Linears back, then merge as serving does
        adapter[path] = (m.a.detach().numpy().astype(np.float32), m.b.detach().numpy().astype(np.float32))
        parent_path, _, name = path.rpartition(".")
        setattr(bert.get_submodule(parent_path), name, m.base)
    merge_adapter(bert, adapter, alpha / rank)
    l1, l2 = head[0], head[2]
    layers = [(l1.weight.detach().numpy().T.copy(), l1.bias.detach().numpy().copy()),
              (l2.weight.detach().numpy().T.copy(), l2.bias.detach().numpy().copy())]
    return layers, adapter, alpha / rank
