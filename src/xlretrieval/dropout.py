"""Dropout on a CPU at a fraction of torch's cost: the same independent drops, masks drawn from whole random words.

torch draws a CPU dropout mask one `bernoulli_` sample per element, about a sixth of a multilingual-e5-small training
step in bf16 (docs/speed.md). Here each 64-bit random word of torch's generator gives four 15-bit uniform
integers, and an element is dropped where its integer is below p x 2^15: each element is dropped independently with
probability p rounded to a multiple of 2^-15 (0.1 becomes 0.100006), and the kept ones are scaled by 1 / (1 - that
probability), so that the expectation is unchanged, as `torch.nn.Dropout` does. The same seed gives the same masks,
so runs and resumed checkpoints stay exact; the masks differ from torch's own.

`use_fast_dropout` puts it in a transformers encoder for training on a CPU: its `torch.nn.Dropout` modules, and its
attention-probability dropout (in training, attention is then written out as transformers' eager attention, whose
products autocast runs in bf16, where torch's sdpa with dropout would run them in fp32; in evaluation, without
dropout, it is sdpa itself).
"""

from __future__ import annotations

import torch

ATTENTION = "sdpa_fast_dropout"  # the transformers attention implementation registered below
BITS = 15  # per draw: a 64-bit word of torch's generator (63 of them uniform) gives four


def _threshold(p: float) -> int:
    """The 15-bit draws below which an element is dropped, for drop probability `p`."""
    return round(p * 2**BITS)


def drawn_probability(p: float) -> float:
    """The drop probability the masks realise for `p`: the nearest multiple of 2^-15."""
    return _threshold(p) / 2**BITS


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean tensor of `shape`, each element False (dropped) independently with probability `drawn_probability(p)`."""
    count = torch.Size(shape).numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_()
    draws = words.view(torch.int16)[:count] & (2**BITS - 1)
    return (draws >= _threshold(p)).view(shape)


def apply_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """`torch.nn.functional.dropout(x, p, training=True)` with a mask from `keep_mask`."""
    return x.masked_fill(keep_mask(x.shape, p, x.device).logical_not_(), 0) * (1 / (1 - drawn_probability(p)))


class FastDropout(torch.nn.Dropout):
    """`torch.nn.Dropout` whose training-mode masks come from `keep_mask` on a CPU (torch's own elsewhere)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        return apply_dropout(x, self.p)


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None, **kwargs):
    """transformers' sdpa attention; with dropout on a CPU, its arithmetic written out as transformers' eager
    attention does it (under autocast: the products in bf16), its probabilities dropped by `apply_dropout`."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0 or query.device.type != "cpu":
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    scores = torch.matmul(query, key.transpose(2, 3)) * (scaling if scaling is not None else query.shape[-1] ** -0.5)
    if attention_mask is not None:  # sdpa's masks: boolean (True: attend) or additive
        scores = scores.masked_fill(attention_mask.logical_not(), float("-inf")) if attention_mask.dtype == torch.bool else scores + attention_mask
    weights = apply_dropout(torch.softmax(scores, dim=-1), dropout)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(ATTENTION, attention)
    AttentionMaskInterface.register(ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


def use_fast_dropout(transformer: torch.nn.Module) -> None:
    """Give a transformers encoder `FastDropout` modules and the attention above (for training on a CPU; on a GPU
    both fall back to torch's own dropout)."""
    _register()
    for parent in list(transformer.modules()):
        for name, child in parent.named_children():
            if type(child) is torch.nn.Dropout:
                setattr(parent, name, FastDropout(child.p).train(child.training))
    transformer.set_attn_implementation(ATTENTION)


def describe_dropout(transformer: torch.nn.Module) -> str:
    """How a model's dropout masks are drawn, for training.json."""
    if transformer.device.type == "cpu" and transformer.config._attn_implementation == ATTENTION:
        return f"masks from {BITS}-bit draws of torch's generator (xlretrieval.dropout)"
    return "torch's masks"
