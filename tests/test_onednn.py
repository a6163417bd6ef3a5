import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import model as bi
from xlretrieval import onednn, private_apis
from xlretrieval.encoding import encode, load_encoder

from conftest import NO_ONEDNN, onednn_expected

NAME = "sentence-transformers/all-MiniLM-L6-v2"
CPU = torch.device("cpu")
# Not skipped where torch merely lacks the ops: there these tests fail (tests/test_kernels.py says why).
pytestmark = pytest.mark.skipif(not onednn_expected(), reason=NO_ONEDNN)


@pytest.fixture(scope="module")
def texts(xquad):
    sample = pd.concat([xquad.questions.groupby("lang").head(6), xquad.candidates.groupby("lang").head(6)])
    return sample.text.tolist()


def linear_layers(module: torch.nn.Module) -> dict[str, type]:
    return {name: type(child) for name, child in module.named_modules() if isinstance(child, (torch.nn.Linear, onednn.PrepackedLinear))}


def test_prepack_replaces_every_linear_layer_and_folds_the_intermediate_gelu():
    encoder = bi.load(NAME, CPU).eval()
    before = linear_layers(encoder.transformer)
    layers = encoder.transformer.config.num_hidden_layers
    assert onednn.prepack(encoder.transformer, encoder.family.activation) == len(before) and len(before) >= 6 * layers
    assert linear_layers(encoder.transformer) == dict.fromkeys(before, onednn.PrepackedLinear)
    intermediate = encoder.transformer.encoder.layer[0].intermediate
    assert intermediate.dense.gelu and isinstance(intermediate.intermediate_act_fn, torch.nn.Identity)
    assert not encoder.transformer.encoder.layer[0].output.dense.gelu
    assert onednn.prepack(encoder.transformer, encoder.family.activation) == 0  # already prepacked


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-5), ("bf16", 8e-3)])
def test_prepacked_embeddings_equal_torch_linear_ones(texts, precision, tolerance):
    if not onednn.expected(CPU, torch.bfloat16 if precision == "bf16" else torch.float32):
        pytest.skip(f"oneDNN has no {precision} kernels for this CPU")
    plain = bi.load(NAME, CPU, 512, precision=precision)
    plain.to(torch.bfloat16 if precision == "bf16" else torch.float32).eval()  # as for_inference, without prepacking
    prepacked = load_encoder(NAME, "cpu", 512, precision=precision)
    assert set(linear_layers(prepacked.transformer).values()) == {onednn.PrepackedLinear}
    reference, fast = encode(plain, texts), encode(prepacked, texts)
    assert np.abs(fast - reference).max() < tolerance
    assert (np.einsum("ij,ij->i", fast, reference) > 0.9999).all()


def test_a_prepacked_model_keeps_its_state_and_saves_the_same_folder(tmp_path, texts):
    encoder = bi.load(NAME, CPU)
    state = {name: tensor.clone() for name, tensor in encoder.state_dict().items()}
    encoder.for_inference()
    assert encoder.state_dict().keys() == state.keys()
    assert all(torch.equal(encoder.state_dict()[name], tensor) for name, tensor in state.items())
    encoder.save(tmp_path / "model")
    reloaded = bi.load(str(tmp_path / "model"), CPU)
    assert all(torch.equal(reloaded.state_dict()[name], tensor) for name, tensor in state.items())


def test_prepacking_is_only_offered_where_onednn_runs_it(monkeypatch):
    assert onednn.expected(CPU, torch.bfloat16) == private_apis.onednn_bf16()
    assert not onednn.expected(CPU, torch.float16)
    assert not onednn.expected(torch.device("cuda"), torch.float32)
    monkeypatch.setattr(private_apis, "onednn_bf16", lambda: False)  # a CPU without bf16 kernels
    assert onednn.expected(CPU, torch.float32) and not onednn.expected(CPU, torch.bfloat16)
