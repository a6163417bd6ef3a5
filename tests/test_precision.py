"""model.precision: bf16 only where the hardware has it (detection mocked both ways), bf16 encoding close to
fp32, and the precision used recorded with the products."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import model as bi
from xlretrieval import precision
from xlretrieval.batching import make_batches
from xlretrieval.encoding import encode, encode_evalset, load_encoder
from xlretrieval.settings import Training
from xlretrieval.training import train

NAME = "sentence-transformers/all-MiniLM-L6-v2"
CPU = torch.device("cpu")
# /proc/cpuinfo flags of the two kinds of 2-core machine this project runs on (abridged)
EPYC_WITHOUT_BF16 = "fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni"
XEON_WITH_AMX = EPYC_WITHOUT_BF16 + " avx512_bf16 amx_bf16 amx_tile amx_int8"
# bf16 embeddings of the packaged MiniLM on XQuAD-R texts differ from fp32 by at most 3.6e-3 per coordinate
# (1000 texts up to 512 tokens, measured for docs/speed.md); the tests allow about twice that.
BF16_TOLERANCE = 8e-3


def machine(monkeypatch, tmp_path, flags: str, name: str = "Test CPU"):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: {name}\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)


def test_auto_takes_bf16_only_on_a_cpu_with_native_bf16(monkeypatch, tmp_path):
    machine(monkeypatch, tmp_path, EPYC_WITHOUT_BF16, "AMD EPYC")
    assert precision.cpu_bf16_features() == [] and precision.resolve("auto", CPU) == "fp32"
    assert precision.describe(CPU) == "AMD EPYC (bf16: none)"
    machine(monkeypatch, tmp_path, XEON_WITH_AMX, "Intel(R) Xeon(R) Platinum 8488C")
    assert precision.cpu_bf16_features() == ["amx_bf16", "avx512_bf16"] and precision.resolve("auto", CPU) == "bf16"
    assert precision.describe(CPU) == "Intel(R) Xeon(R) Platinum 8488C (bf16: amx_bf16, avx512_bf16)"
    assert precision.resolve("fp32", CPU) == "fp32"


def test_bf16_on_a_cpu_without_it_stops_naming_the_setting(monkeypatch, tmp_path):
    machine(monkeypatch, tmp_path, EPYC_WITHOUT_BF16, "AMD EPYC")
    with pytest.raises(precision.PrecisionError, match=r"model.precision is bf16 but AMD EPYC .* no native bf16"):
        bi.load(NAME, CPU, precision="bf16")
    with pytest.raises(precision.PrecisionError, match="one of"):
        precision.resolve("fp16", CPU)


def test_without_proc_cpuinfo_torch_probes_decide(monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "absent")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision.cpu_bf16_features() == ["avx512_bf16"]
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch without the probe: an error, not "no bf16"
    with pytest.raises(RuntimeError, match="no torch.cpu._is_amx_tile_supported .* set model.precision to fp32 or bf16"):
        precision.cpu_bf16_features()


@pytest.fixture(scope="module")
def sample(xquad):
    questions = xquad.questions[xquad.questions.lang.isin(["en", "th", "ru"])].groupby("lang").head(4)
    candidates = xquad.candidates[xquad.candidates.lang.isin(["en", "th", "ru"])].groupby("lang").head(4)
    return pd.concat([questions.text, candidates.text]).tolist()


def test_bf16_encoding_is_close_to_fp32_and_recorded(monkeypatch, tmp_path, sample):
    machine(monkeypatch, tmp_path, XEON_WITH_AMX)
    fp32, bf16 = load_encoder(NAME, "cpu", 512), load_encoder(NAME, "cpu", 512, precision="auto")
    assert fp32.precision == "fp32" and bf16.precision == "bf16"
    assert bf16.transformer.embeddings.word_embeddings.weight.dtype == torch.bfloat16
    reference, fast = encode(fp32, sample), encode(bf16, sample)
    assert fast.dtype == np.float32 and 0 < np.abs(fast - reference).max() < BF16_TOLERANCE
    assert (np.einsum("ij,ij->i", fast, reference) > 0.999).all()
    outputs = {"questions": tmp_path / "q.npy", "candidates": tmp_path / "c.npy", "encoding": tmp_path / "encoding.json"}
    encode_evalset(bf16, NAME, {"questions": sample[:2], "candidates": sample[2:4]}, outputs, batch_size=2)
    recorded = json.loads((tmp_path / "encoding.json").read_text())
    assert recorded["precision"] == "bf16" and recorded["hardware"] == "Test CPU (bf16: amx_bf16, avx512_bf16)"


def test_bf16_training_keeps_fp32_weights_and_records_its_precision(monkeypatch, tmp_path, mlqa_pairs):
    machine(monkeypatch, tmp_path, XEON_WITH_AMX)
    encoder = bi.load(NAME, CPU, 32, precision="auto")
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 4, 4, 0)
    train(
        encoder,
        mlqa_pairs,
        batches,
        tmp_path / "model",
        Training(learning_rate=1e-4, weight_decay=0.0, warmup_ratio=0.0, temperature=0.05),
        progress=False,
    )
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["precision"] == "bf16" and info["hardware"].startswith("Test CPU")
    assert all(p.dtype == torch.float32 for p in bi.load(str(tmp_path / "model"), CPU).parameters())
