"""Dropout on a CPU at a fraction of torch's cost: the same independent drops, masks drawn from whole random words.

torch draws a CPU dropout mask one `bernoulli_` sample per element, about a sixth of a multilingual-e5-small training
step in bf16 (docs/speed.md). Here each 64-bit random word of torch's generator gives four 15-bit uniform
integers, and an element is dropped where its integer is below p x 2^15: each element is dropped independently with
probability p rounded to a multiple of 2^-15 (0.1 becomes 0.100006), and the kept ones are scaled by 1 / (1 - that
probability), so that the expectation is unchanged, as `torch.nn.Dropout` does. The same seed gives the same masks,
so runs and resumed checkpoints stay exact; the masks differ from torch's own.

Applied, the mask is a tensor of -1 (kept) and 0 (dropped) in the input's dtype, made from the draws by integer
arithmetic: torch's CPU kernels for boolean tensors (comparison, `masked_fill`) cost several times its multiplications
(docs/speed.md). `use_fast_dropout` puts it into a transformers encoder's dropout modules for training on a CPU;
attention's dropout on a CPU is `apply_dropout` itself (`packing.attend`).
"""

from __future__ import annotations

import torch

BITS = 15  # per draw: a 64-bit word of torch's generator (63 of them uniform) gives four


def _threshold(p: float) -> int:
    """The 15-bit draws below which an element is dropped, for drop probability `p`."""
    return round(p * 2**BITS)


def drawn_probability(p: float) -> float:
    """The drop probability the masks realise for `p`: the nearest multiple of 2^-15."""
    return _threshold(p) / 2**BITS


def _draws(count: int, device: torch.device | str) -> torch.Tensor:
    """`count` uniform 15-bit integers (int16), four from each 64-bit word of torch's generator."""
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_()
    return words.view(torch.int16)[:count] & (2**BITS - 1)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean tensor of `shape`, each element False (dropped) independently with probability `drawn_probability(p)`
    (the mask `apply_dropout` draws from the same state of the generator)."""
    return (_draws(torch.Size(shape).numel(), device) >= _threshold(p)).view(shape)


class _Dropout(torch.autograd.Function):
    """x times a mask of -1 (kept) and 0 (dropped) times -1 / (1 - drawn probability); the gradient through the same."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        kept = (_threshold(p) - 1 - _draws(x.numel(), x.device)).bitwise_right_shift_(BITS).to(x.dtype).view(x.shape)  # -1 where kept
        ctx.save_for_backward(kept)
        ctx.scale = -1 / (1 - drawn_probability(p))
        return (x * kept).mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (kept,) = ctx.saved_tensors
        return (grad * kept).mul_(ctx.scale), None


def apply_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """`torch.nn.functional.dropout(x, p, training=True)` with the mask `keep_mask` would draw."""
    return _Dropout.apply(x, p)


class FastDropout(torch.nn.Dropout):
    """`torch.nn.Dropout` whose training-mode masks come from `apply_dropout` on a CPU (torch's own elsewhere)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0 < self.p < 1 or x.device.type != "cpu":
            return super().forward(x)
        return apply_dropout(x, self.p)


def use_fast_dropout(transformer: torch.nn.Module) -> None:
    """Give a transformers encoder `FastDropout` modules (for training on a CPU; on a GPU they are torch's dropout)."""
    for parent in list(transformer.modules()):
        for name, child in parent.named_children():
            if type(child) is torch.nn.Dropout:
                setattr(parent, name, FastDropout(child.p).train(child.training))


def own_masks(transformer: torch.nn.Module) -> bool:
    """Whether a model's dropout modules draw their masks here (`FastDropout` on a CPU), not through torch."""
    return transformer.device.type == "cpu" and any(isinstance(module, FastDropout) for module in transformer.modules())
