import hashlib

import pytest

from xlretrieval.batching import make_batches

LANGS = ["de", "en", "es"]


def batches(pairs, alpha, seed=0, langs=LANGS, n=640, size=32):
    return make_batches(pairs, langs, alpha, n, size, seed)


@pytest.mark.parametrize("alpha", [1.0, 0.0, 0.5])
def test_no_parallel_id_twice_in_a_batch(mlqa_pairs, alpha):
    b = batches(mlqa_pairs, alpha)
    assert not b.duplicated(["batch", "question_id"]).any()
    assert len(b) == 640 and b.batch.nunique() == 20 and (b.groupby("batch").size() == 32).all()
    assert set(b.question_lang) | set(b.passage_lang) <= set(LANGS)


def test_xx_mono_batches_share_one_language(mlqa_pairs):
    b = batches(mlqa_pairs, 1.0)
    assert (b.question_lang == b.passage_lang).all()
    assert (b.groupby("batch").question_lang.nunique() == 1).all()
    assert set(b.question_lang) == set(LANGS)


def test_x_y_pairs_always_cross_languages(mlqa_pairs):
    b = batches(mlqa_pairs, 0.0)
    assert (b.question_lang != b.passage_lang).all()
    assert set(b.kind) == {"x-y"}


def test_passage_is_the_answer_in_the_passage_language(mlqa_pairs):
    b = batches(mlqa_pairs, 0.5)
    answer = dict(zip(zip(mlqa_pairs.question_id, mlqa_pairs.lang), mlqa_pairs.candidate_id))
    assert all(answer[q, lang] == p for q, lang, p in zip(b.question_id, b.passage_lang, b.passage_id))
    assert all((q, lang) in answer for q, lang in zip(b.question_id, b.question_lang))


def test_hybrid_mixes_batch_kinds_near_alpha(mlqa_pairs):
    b = make_batches(mlqa_pairs, LANGS, 0.3, 32 * 200, 32, 0)
    share = (b.drop_duplicates("batch").kind == "xx-mono").mean()
    assert 0.2 < share < 0.4


def test_same_seed_same_bytes_other_seed_differs(mlqa_pairs):
    digest = lambda frame: hashlib.sha256(frame.to_csv(sep="\t", index=False).encode()).hexdigest()  # noqa: E731
    assert digest(batches(mlqa_pairs, 0.5, seed=7)) == digest(batches(mlqa_pairs, 0.5, seed=7))
    assert digest(batches(mlqa_pairs, 0.5, seed=7)) != digest(batches(mlqa_pairs, 0.5, seed=8))


def test_pair_count_is_independent_of_the_language_count(mlqa_pairs):
    sizes = {len(make_batches(mlqa_pairs, ["en", *more], 0.5, 1000, 32, 0)) for more in (["de"], ["de", "es"], ["ar", "de", "es", "hi"])}
    assert sizes == {31 * 32}


def test_x_y_needs_two_languages(mlqa_pairs):
    with pytest.raises(ValueError, match="two languages"):
        make_batches(mlqa_pairs, ["en"], 0.5, 64, 32, 0)


def test_dev_batches_come_from_dev_pairs_only(mlqa_pairs):
    from xlretrieval.batching import training_batches
    from xlretrieval.data.splits import hold_out_dev

    pairs = hold_out_dev(mlqa_pairs, 0.2, 0)
    b = training_batches(pairs, LANGS, 0.5, 320, 32, 0, dev_pairs=64)
    dev_ids = set(pairs.question_id[pairs.split == "dev"])
    assert b.groupby("split").size().to_dict() == {"dev": 64, "train": 320}
    assert set(b.question_id[b.split == "dev"]) <= dev_ids and not set(b.question_id[b.split == "train"]) & dev_ids
    without = training_batches(pairs.assign(split="train"), LANGS, 0.5, 320, 32, 0)
    assert set(without.split) == {"train"} and without.drop(columns="split").equals(make_batches(pairs, LANGS, 0.5, 320, 32, 0))
