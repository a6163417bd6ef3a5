"""The private torch and transformers names the fast paths use, wrapped here and nowhere else.

None of them is a documented interface: an upgrade may rename, move or drop any of them. Each wrapper names the
versions it was checked on; `tests/test_kernels.py` fails where a fast path that this CPU and torch should take is not
taken, so that an upgrade that drops one shows there instead of quietly running the slower path.
"""

from __future__ import annotations

import torch

TORCH_CHECKED = ("2.13.0",)
TRANSFORMERS_CHECKED = ("5.24.0", "5.25.0")  # the same signatures in both; 5.25's packed-row detection: `sdpa_mask`


def unchecked_versions() -> list[str]:
    """The installed torch and transformers whose versions the wrappers here were not checked on ("torch 2.14.0 (checked
    on 2.13.0)"); none where both were. A fast path may still work there: `tests/test_kernels.py` tells."""
    from importlib.metadata import version

    found = []
    for library, checked in (("torch", TORCH_CHECKED), ("transformers", TRANSFORMERS_CHECKED)):
        installed = version(library).split("+")[0]
        if installed not in checked:
            found.append(f"{library} {installed} (checked on {', '.join(checked)})")
    return found


# oneDNN (torch.ops.mkldnn), torch 2.13.0: the ops `torch.compile`'s weight freezing calls for a CPU's linear layers.
ONEDNN_LINEAR = ("_reorder_linear_weight", "_linear_pointwise")


# torch's CPU feature probes (torch.cpu, torch 2.13.0): read where /proc/cpuinfo is absent (macOS, some containers).
CPU_BF16_PROBES = {"amx_bf16": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}


def cpu_has(flag: str) -> bool:
    """torch's own probe of a CPU bf16 feature (`CPU_BF16_PROBES`). Raises where this torch lacks it: a missing probe
    must not read as "no bf16", which would quietly turn `model.precision: auto` into fp32."""
    probe = getattr(torch.cpu, CPU_BF16_PROBES[flag], None)
    if probe is None:
        raise RuntimeError(
            f"torch {torch.__version__} has no torch.cpu.{CPU_BF16_PROBES[flag]} (checked on torch {', '.join(TORCH_CHECKED)}) and "
            "this machine no /proc/cpuinfo: set model.precision to fp32 or bf16 instead of auto"
        )
    return bool(probe())


def onednn_linear() -> bool:
    """Whether this torch has oneDNN and its prepacked linear product (`reorder_linear_weight`, `linear_pointwise`)."""
    return torch.backends.mkldnn.is_available() and all(hasattr(torch.ops.mkldnn, name) for name in ONEDNN_LINEAR)


def onednn_bf16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (`torch.ops.mkldnn._is_mkldnn_bf16_supported`, torch 2.13.0)."""
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def reorder_linear_weight(weight: torch.Tensor) -> torch.Tensor:
    """A linear layer's weight (out x in) in oneDNN's blocked layout (`torch.ops.mkldnn._reorder_linear_weight`, torch 2.13.0)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight, None)


def linear_pointwise(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None, attr: str, algorithm: str) -> torch.Tensor:
    """x (tokens x in) times a `reorder_linear_weight` weight, plus `bias`, then the post-op `attr` ("none", "gelu",
    "relu") with `algorithm` ("none" or "tanh" for GELU): `torch.ops.mkldnn._linear_pointwise`, torch 2.13.0."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, attr, [], algorithm)


def attention_implementation(transformer: torch.nn.Module) -> str | None:
    """The attention implementation a transformers model runs (`config._attn_implementation`, transformers 5.24.0, 5.25.0;
    `set_attn_implementation` is the public setter)."""
    return transformer.config._attn_implementation


def sdpa_attention(*args, **kwargs):
    """transformers' sdpa attention (`transformers.integrations.sdpa_attention.sdpa_attention_forward`, 5.24.0, 5.25.0):
    its attention interface's arguments in, (output, None) out."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(*args, **kwargs)


def sdpa_mask(*args, **kwargs) -> torch.Tensor | None:
    """transformers' sdpa attention mask (`transformers.masking_utils.sdpa_mask`, 5.24.0, 5.25.0): its attention mask
    interface's arguments in, a boolean mask or None out. From 5.25 on, a BERT given position ids and no mask asks
    the mask interface for a tokens x tokens mask over the packed texts it detects (`packing.mask` builds none)."""
    from transformers.masking_utils import sdpa_mask as transformers_sdpa_mask

    return transformers_sdpa_mask(*args, **kwargs)


def activation_type(name: str) -> type:
    """The module class of config.json's activation `name` (`transformers.activations.ACT2FN`, 5.24.0, 5.25.0: not
    exported at transformers' top level)."""
    from transformers.activations import ACT2FN

    return type(ACT2FN[name])
