"""Low-rank adapters for the MiniLM encoder, fine-tuned with the semantic head.

scripts/train_safety_head.py trains, next to the head, a rank-r update of every
attention and feed-forward projection of the encoder (LoRA: W' = W + scale * B @ A, with A of
shape (r, in) and B of shape (out, r)). The update is stored with the head in
safety/data/semantic_head.npz under the keys `lora/<module path>/a` and `.../b` plus
`lora_scale`, and merged into the encoder's weights once at load time, so serving runs the
plain encoder at the plain encoder's speed.

    merge_adapter(bert_model, adapter)      # adapter: {"encoder.layer.0.attention.self.query": (a, b)}
"""

from __future__ import annotations

import numpy as np

# The projections the adapter updates, relative to each encoder layer.
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")


def target_modules(bert) -> list[str]:
    """Every adapted module's path inside a BertModel, in a fixed order."""
    return [f"encoder.layer.{i}.{t}" for i in range(len(bert.encoder.layer)) for t in TARGETS]


def read_adapter(data) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """The adapter stored in an opened npz file: ({module path: (a, b)}, scale); empty if none."""
    adapter = {}
    for key in data.files:
        if key.startswith("lora/") and key.endswith("/a"):
            path = key[len("lora/"):-len("/a")]
            adapter[path] = (data[key], data[f"lora/{path}/b"])
    scale = float(data["lora_scale"]) if adapter else 0.0
    return adapter, scale


def merge_adapter(bert, adapter: dict[str, tuple[np.ndarray, np.ndarray]], scale: float) -> int:
    """Adds scale * B @ A to each adapted Linear's weight in place. Returns how many were merged.

    Raises ValueError when the adapter names a module the model lacks or its shapes disagree:
    an adapter trained for another encoder must not be applied half-way.
    """
    import torch

    modules = dict(bert.named_modules())
    with torch.no_grad():
        for path, (a, b) in adapter.items():
            linear = modules.get(path)
            if linear is None or not hasattr(linear, "weight"):
                raise ValueError(f"adapter names {path!r}, which the encoder does not have")
            out_f, in_f = linear.weight.shape
            if a.shape[1] != in_f or b.shape[0] != out_f or a.shape[0] != b.shape[1]:
                raise ValueError(f"adapter for {path!r} has shapes {a.shape}/{b.shape}, weight is {(out_f, in_f)}")
            delta = torch.from_numpy(b.astype(np.float32)) @ torch.from_numpy(a.astype(np.float32))
            linear.weight.add_(delta.to(linear.weight.dtype), alpha=scale)
    return len(adapter)
