import hashlib

import numpy as np
import pytest

from xlretrieval.batching import _Queue, batch_kinds, language_shares, make_batches

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


def kinds(frame):
    return frame.drop_duplicates("batch").kind.tolist()


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.3, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("n_batches", [1, 7, 48, 101])
def test_hybrid_has_exactly_round_alpha_mono_batches(mlqa_pairs, alpha, n_batches):
    b = make_batches(mlqa_pairs, LANGS, alpha, 8 * n_batches, 8, 3)
    assert kinds(b).count("xx-mono") == round(alpha * n_batches) and len(kinds(b)) == n_batches
    assert batch_kinds(alpha, n_batches, 3) == kinds(b)


def test_alpha_end_points_give_one_kind():
    assert set(batch_kinds(0.0, 48, 5)) == {"x-y"} and set(batch_kinds(1.0, 48, 5)) == {"xx-mono"}


def test_batch_kinds_depend_on_seed_alpha_and_count_only(mlqa_pairs):
    small, large = (make_batches(mlqa_pairs, langs, 0.5, 48 * 8, 8, 11) for langs in (["de", "en"], ["ar", "de", "en", "es", "hi"]))
    assert kinds(small) == kinds(large) == batch_kinds(0.5, 48, 11)
    assert not small.equals(large)
    assert batch_kinds(0.5, 48, 11) != batch_kinds(0.5, 48, 12)
    assert set(batch_kinds(0.5, 48, 11)) == {"x-y", "xx-mono"}


def test_queue_refills_when_every_pending_item_is_excluded():
    queue = _Queue(["a", "b"], {"a": "a", "b": "b"}, np.random.default_rng(0))
    first = queue.take(set())
    second = queue.take({first})  # the pass's last item
    assert {first, second} == {"a", "b"}
    assert queue.take({second}) == first  # pending was empty: a new pass
    assert queue.take({second}) == first  # only `second` pending, and it is excluded: the next pass serves `first`
    assert queue.take(set()) == second  # the held-back item comes first once admissible
    assert queue.take({"a", "b"}) is None


def test_x_y_batches_no_longer_run_out_of_parallel_ids(mlqa_pairs):
    for seed in (19, 25, 34, 41, 52):  # 25, 34, 41, 52 raised "not enough distinct parallel ids" before
        b = make_batches(mlqa_pairs, ["en", "es", "hi"], 0.0, 1536, 32, seed)
        assert len(b) == 1536 and not b.duplicated(["batch", "question_id"]).any()


@pytest.mark.parametrize("langs", [["en", "es", "hi"], ["es", "hi"], ["de", "en", "zh"]])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_seed_sweep_keeps_the_batch_invariants(mlqa_pairs, langs, alpha):
    for seed in range(60):
        b = make_batches(mlqa_pairs, langs, alpha, 1536, 32, seed)
        assert len(b) == 1536 and (b.groupby("batch").size() == 32).all()
        assert not b.duplicated(["batch", "question_id"]).any()


def test_coverage_stays_even_when_ids_are_scarce(mlqa_pairs):
    pairs = mlqa_pairs[mlqa_pairs.lang.isin(["es", "hi"])]
    crossable = pairs.question_id[pairs.question_id.duplicated(keep=False)].unique()
    b = make_batches(mlqa_pairs, ["es", "hi"], 0.0, 20 * len(crossable), 32, 0)  # every id is needed ~20 times
    for lang, rows in b.groupby("question_lang"):
        counts = rows.question_id.value_counts().reindex(crossable, fill_value=0)
        assert counts.max() - counts.min() <= 2, lang


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_questions_sharing_an_answer_sentence_never_meet(mlqa_pairs, alpha):
    langs = ["ar", "de", "en", "es", "hi", "vi", "zh"]
    texts = mlqa_pairs.groupby("question_id").answer.agg(set)  # a question's answer sentence in every language
    shared = mlqa_pairs[mlqa_pairs.answer.duplicated(keep=False)]
    sharing = set(shared.question_id)
    assert shared.groupby("answer").question_id.nunique().gt(1).sum() >= 8  # MLQA-R's shared answer sentences
    passage = dict(zip(mlqa_pairs.candidate_id, mlqa_pairs.answer))
    met = 0
    for seed in range(5):
        b = make_batches(mlqa_pairs, langs, alpha, 1536, 32, seed).assign(text=lambda d: d.passage_id.map(passage))
        assert not b.duplicated(["batch", "text"]).any()
        for _, batch in b[b.question_id.isin(sharing)].groupby("batch"):
            # no passage of the batch answers another of its questions, in any language
            for qid in batch.question_id:
                assert not texts[qid] & set(b.text[(b.batch == batch.batch.iloc[0]) & (b.question_id != qid)])
            met += 1
    assert met  # the sharing questions were drawn


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


def test_the_source_languages_share_falls_as_k_grows_at_a_fixed_budget(mlqa_pairs):
    # each X-X-mono batch draws its one language at random: English has about half of them at k = 1, a third at k = 2
    one, two = (language_shares(batches(mlqa_pairs, 1.0, langs=langs, n=1920))["texts"]["en"] for langs in (["de", "en"], ["de", "en", "es"]))
    assert one == pytest.approx(1 / 2, abs=0.1) and two == pytest.approx(1 / 3, abs=0.1) and one > two


@pytest.mark.parametrize("alpha", [1.0, 0.0, 0.5])
def test_half_keeps_the_source_at_half_the_texts_at_every_k(mlqa_pairs, alpha):
    langs = ["en", "de", "es", "zh"]  # the source first
    half = make_batches(mlqa_pairs, langs, alpha, 9600, 32, 0, source_share="half")
    uniform = make_batches(mlqa_pairs, langs, alpha, 9600, 32, 0)
    english = language_shares(half)["texts"]["en"]
    assert english == pytest.approx(1 / 2, abs=0.1) and language_shares(uniform)["texts"]["en"] < english - 0.1
    crossing = half[half.kind == "x-y"]
    assert ((crossing.question_lang == "en") != (crossing.passage_lang == "en")).all()  # the source on exactly one side
    assert (half.question_lang != half.passage_lang).sum() == len(crossing) and not half.duplicated(["batch", "question_id"]).any()
    assert set(half.question_lang) == set(langs) and kinds(half) == kinds(uniform)


def test_with_one_target_half_is_the_uniform_design_to_the_byte(mlqa_pairs):
    for langs in (["en", "de"], ["en", "zh"]):
        pd_half = make_batches(mlqa_pairs, langs, 0.5, 640, 32, 3, source_share="half")
        assert pd_half.equals(make_batches(mlqa_pairs, langs, 0.5, 640, 32, 3))
    with pytest.raises(ValueError, match="source_share is one of uniform, half"):
        make_batches(mlqa_pairs, ["en", "de"], 0.5, 640, 32, 3, source_share="english")
