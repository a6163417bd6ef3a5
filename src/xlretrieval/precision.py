"""Which arithmetic a job runs in: bf16 where the hardware multiplies bf16 natively, fp32 everywhere else.

A CPU with AMX or AVX512-BF16 runs bf16 matrix products several times faster than fp32; a CPU without
them emulates bf16 about 100x slower. Both kinds of machine turn up (and a cluster's nodes differ), so
`model.precision: auto` is resolved by each job on the machine that runs it, from the CPU's feature
flags (or CUDA's capability), never assumed; what was used is recorded with the job's products.
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from . import private_apis

PRECISIONS = ("auto", "fp32", "bf16")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo names of the native bf16 dot-product units
CPUINFO = Path("/proc/cpuinfo")


class PrecisionError(RuntimeError):
    """bf16 was asked for on a device that cannot run it natively."""


def _cpuinfo_field(name: str) -> str:
    """The first value of `name` in /proc/cpuinfo ("" where there is no such file, as on macOS)."""
    try:
        lines = CPUINFO.read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == name), "")


def cpu_model() -> str:
    """The CPU's model name, for logs and benchmark tables."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_bf16_features() -> list[str]:
    """The CPU's native bf16 matmul features: flags from /proc/cpuinfo, or torch's cpuinfo probes elsewhere."""
    flags = set(_cpuinfo_field("flags").split())
    if not flags:
        flags = {flag for flag in NATIVE_BF16_FLAGS if private_apis.cpu_has(flag)}
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 natively (CUDA: compute capability 8.0 or newer)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool(cpu_bf16_features())


def describe(device: torch.device) -> str:
    """The device as benchmark tables and logs name it, with its native bf16 features."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (bf16: {'native' if native_bf16(device) else 'none'})"
    return f"{cpu_model()} (bf16: {', '.join(cpu_bf16_features()) or 'none'})"


def resolve(requested: str, device: torch.device) -> str:
    """ "fp32" or "bf16" for `model.precision` on `device`: auto takes bf16 only where it is native, and an
    explicit bf16 on a device without it is an error rather than a 100x slower run."""
    if requested not in PRECISIONS:
        raise PrecisionError(f"model.precision must be one of {PRECISIONS}, not '{requested}'")
    if requested == "fp32":
        return "fp32"
    if native_bf16(device):
        return "bf16"
    if requested == "bf16":
        raise PrecisionError(
            f"model.precision is bf16 but {describe(device)} has no native bf16 matrix unit "
            f"({' / '.join(NATIVE_BF16_FLAGS)}): bf16 would run many times slower than fp32; set model.precision to auto or fp32"
        )
    return "fp32"
