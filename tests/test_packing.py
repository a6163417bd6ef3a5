"""xlretrieval.packing: a packed row of texts gives what a padded batch gives, for BERT and XLM-R encoders, and builds no
attention mask it does not use."""

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, XLMRobertaConfig, XLMRobertaModel

from xlretrieval import dropout, families, packing, private_apis

from conftest import ROOT

LENGTHS = [3, 5, 5, 9, 12, 17, 30]  # length-sorted, as BiEncoder.embed packs them
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "vocab_size": 100}


def encoder(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "bert":
        model = BertModel(BertConfig(**SIZES), add_pooling_layer=False)
    else:  # XLM-R numbers positions from its padding id + 1
        model = XLMRobertaModel(XLMRobertaConfig(**SIZES, pad_token_id=1, max_position_embeddings=40), add_pooling_layer=False)
    return model.double().eval()


def packed_forward(model: torch.nn.Module, ids: list[list[int]], block_size: int):
    """`packing.forward` of a transformer prepared for it, as `BiEncoder.prepare` prepares one."""
    family = families.of_config(model.config.to_dict())
    packing.prepare(model, family)
    return packing.forward(model, ids, block_size, family.position_offset)


def texts() -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(2, 100, (length,), generator=generator).tolist() for length in LENGTHS]


def padded(model: torch.nn.Module, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Last hidden states of a padded batch (texts x longest x features) and its attention mask."""
    width = max(map(len, ids))
    pad = model.config.pad_token_id
    input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])
    return model(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask


@pytest.mark.parametrize("kind", ["bert", "xlm-r"])
@pytest.mark.parametrize("block_size", [1, 3, 8])
def test_a_packed_row_gives_every_token_what_a_padded_batch_gives(kind, block_size):
    model, ids = encoder(kind), texts()
    hidden, packed = packed_forward(model, ids, block_size)
    assert hidden.shape == (sum(LENGTHS), 32)  # no padding
    reference, mask = padded(model, ids)
    torch.testing.assert_close(hidden, reference[mask.bool()])
    torch.testing.assert_close(packed.mean(hidden), (reference * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))
    torch.testing.assert_close(packed.first(hidden), reference[:, 0])


def test_gradients_through_a_packed_row_equal_the_padded_batchs():
    model, ids = encoder("xlm-r"), texts()
    hidden, packed = packed_forward(model, ids, 3)
    packed.mean(hidden).square().sum().backward()
    ours = {name: weight.grad.clone() for name, weight in model.named_parameters() if weight.grad is not None}
    model.zero_grad()
    reference, mask = padded(model, ids)
    ((reference * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).square().sum().backward()
    assert len(ours) > 20
    for name, weight in model.named_parameters():
        if name in ours:
            torch.testing.assert_close(ours[name], weight.grad, msg=name)


def test_attention_with_dropout_is_the_written_out_product_with_the_studys_masks():
    torch.manual_seed(0)
    block = packing.Packing.of([7, 5, 6], 3).blocks[0]
    query, key, value = (torch.randn(3, 2, 7, 8, dtype=torch.float64) for _ in range(3))
    torch.manual_seed(1)
    output = packing.attend(query, key, value, block, dropout=0.1, scaling=0.5)
    torch.manual_seed(1)
    kept = dropout.keep_mask((3, 2, 7, 7), 0.1)
    weights = torch.softmax((query @ key.transpose(-1, -2) * 0.5).masked_fill(~block.keys, float("-inf")), -1)
    torch.testing.assert_close(output, (weights * kept / (1 - dropout.drawn_probability(0.1))) @ value)
    # without dropout (evaluation) it is torch's sdpa with the padding masked
    plain = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=block.keys, scale=0.5)
    torch.testing.assert_close(packing.attend(query, key, value, block, dropout=0.0, scaling=0.5), plain)


def test_a_model_given_no_packing_attends_as_sdpa_does():
    model, ids = encoder("bert"), texts()
    reference, _ = padded(model, ids)
    packed_forward(model, ids, 8)
    assert private_apis.attention_implementation(model) == packing.ATTENTION
    torch.testing.assert_close(padded(model, ids)[0], reference)


# Encodes TEXTS texts of LENGTH tokens in one packed batch (a tiny BERT, after a warm-up batch of the same length) in a
# fresh process, and prints how much its peak resident memory grew.
PEAK_MEMORY = """
import json, resource, sys
import torch
from transformers import BertConfig, BertModel
from xlretrieval.model import BiEncoder

texts, length = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
torch.set_num_threads(1)
config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100, max_position_embeddings=length)
encoder = BiEncoder(BertModel(config, add_pooling_layer=False), tokenizer=None)
encoder.for_inference()
ids = torch.randint(2, 100, (texts, length)).tolist()
with torch.inference_mode():
    encoder.embed_tokens(ids[:16])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    encoder.embed_tokens(ids)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grown": (after - before) * (1 if sys.platform == "darwin" else 1024)}))
"""


def test_a_packed_batch_builds_no_tokens_x_tokens_mask():
    """transformers 5.25 detects the packed texts from their position ids and would build a mask over every pair of the
    row's tokens, which packed attention never reads (+134 MB here, where 5.24 and the mask hook need about 10)."""
    pytest.importorskip("resource")  # not on Windows
    texts, length = 128, 64
    tokens = texts * length
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(texts), str(length)], capture_output=True, text=True, env=env, check=True)
    grown = json.loads(result.stdout.splitlines()[-1])["grown"]
    assert grown < tokens * tokens / 2, f"encoding {tokens} packed tokens grew the peak memory by {grown / 2**20:.0f} MiB"


def test_a_model_that_packing_could_mix_up_is_refused_by_name():
    model = DistilBertModel(DistilBertConfig(dim=32, n_layers=1, n_heads=4, hidden_dim=64, vocab_size=100))
    with pytest.raises(ValueError, match="'distilbert'"):
        packing.prepare(model, families.of_config(model.config.to_dict()))
