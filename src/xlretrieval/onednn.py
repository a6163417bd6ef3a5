"""Linear layers with weights laid out once for oneDNN, for inference on a CPU.

`torch.nn.Linear` on a CPU multiplies fp32 through the BLAS torch was built with (MKL, which runs AVX2 code on
AMD processors) and bf16 through oneDNN, reordering the weight into oneDNN's blocked layout at every call.
`prepack` gives a model's linear layers their weights reordered once and multiplies through oneDNN in both
precisions (torch's `mkldnn::_linear_pointwise`, what `torch.compile`'s weight freezing uses: `private_apis`), with the
activation of an intermediate layer (exact or tanh GELU, ReLU: the one the model's family names, `families.FOLDED`)
applied to the product before it is stored. On a 2-core AMD EPYC (Zen 5) that
is 2.3x the fp32 and 1.2x the bf16 products of `torch.nn.Linear` (docs/speed.md). The arithmetic is the same: fp32
embeddings agree within float rounding, bf16 ones within bf16's (tests/test_onednn.py).
"""

from __future__ import annotations

import torch

from . import families, private_apis


def expected(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether oneDNN's prepacked linear layers should run here: a CPU, torch built with oneDNN, fp32, or bf16 where
    oneDNN has bf16 kernels for this CPU. Whether this torch still has the private ops they need is
    `private_apis.onednn_linear`: where it does not, an expected path is missing, not silently off (`speed.record`)."""
    return (
        device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and (dtype == torch.float32 or (dtype == torch.bfloat16 and private_apis.onednn_bf16()))
    )


class PrepackedLinear(torch.nn.Module):
    """A `torch.nn.Linear` for inference whose product runs on a weight reordered once for oneDNN, followed by the
    activation `activation` names (config.json's name, one of `families.FOLDED`) or nothing. `weight` and `bias` stay as
    they were, so the state dict (and a saved model) is the linear layer's."""

    def __init__(self, linear: torch.nn.Linear, activation: str | None = None):
        super().__init__()
        self.in_features, self.out_features, self.activation = linear.in_features, linear.out_features, activation
        self.post_op = families.FOLDED[activation] if activation is not None else ("none", "")
        self.weight, self.bias = linear.weight, linear.bias
        self.packed = private_apis.reorder_linear_weight(linear.weight.detach())

    @property
    def gelu(self) -> bool:
        """Whether a GELU (exact or tanh) is folded into the product."""
        return self.post_op[0] == "gelu"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.detach()
        attr, algorithm = self.post_op
        y = private_apis.linear_pointwise(x.reshape(-1, self.in_features), self.packed, bias, attr, algorithm)
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


def prepacked(module: torch.nn.Module) -> bool:
    """Whether any of `module`'s linear layers is a `PrepackedLinear`."""
    return any(isinstance(child, PrepackedLinear) for child in module.modules())


def prepack(module: torch.nn.Module, activation: str | None) -> int:
    """Replace `module`'s linear layers with `PrepackedLinear`s, in place, folding `activation` (config.json's name: the
    one the model's family folds, `families.Family.activation`; None: none) where it follows an intermediate layer
    (`dense` then `intermediate_act_fn`, as BERT and XLM-R name them) into its product; return how many were replaced.
    Its weights must no longer change: train first, then prepack."""
    folded = private_apis.activation_type(activation) if activation is not None else None
    replaced = 0
    for parent in list(module.modules()):
        dense = getattr(parent, "dense", None)
        if folded is not None and type(dense) is torch.nn.Linear and type(getattr(parent, "intermediate_act_fn", None)) is folded:
            parent.dense, parent.intermediate_act_fn = PrepackedLinear(dense, activation), torch.nn.Identity()
            replaced += 1
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(parent, name, PrepackedLinear(child))
                replaced += 1
    return replaced
