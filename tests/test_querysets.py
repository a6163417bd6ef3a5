"""A query set's TREC qrels judge exactly its questions, on MLQA-R, whose questions are not all asked in every language."""

import ir_measures
import numpy as np
import pytest

from xlretrieval import metrics
from xlretrieval.data.splits import evaluation_set
from xlretrieval.querysets import query_sets, write_qrels
from xlretrieval.search.output import search

SETTINGS = ("mono", "cross", "multi")
CROSS = ["ar-de", "de-ar", "hi-zh", "es-vi", "zh-en", "en-de"]


def qrels_queries(path) -> set[str]:
    return {qrel.query_id for qrel in ir_measures.read_trec_qrels(str(path))}


def test_qrels_list_exactly_the_questions_of_their_query_set(mlqa, tmp_path):
    write_qrels(mlqa, tmp_path, SETTINGS)
    qids = mlqa.questions.question_id.to_numpy()
    units = {u.name: u for u in query_sets(mlqa, SETTINGS)}
    assert len(units) == 7 + 42 + 7
    for name, unit in units.items():
        asked = set(qids[unit.question_rows])
        assert set(unit.qrels.question_id) == asked, name
        assert qrels_queries(tmp_path / f"{name}.qrels") == asked, name
    # 512 questions asked in German, 517 in Arabic, 207 in both: ar->de asks 207 and judges 207, not the 512 German ones
    ar_de = units["cross/ar-de"]
    assert len(ar_de.question_rows) == 207 and ar_de.qrels.question_id.nunique() == 207
    assert (mlqa.questions.lang == "de").sum() == 512
    for pair in CROSS:
        x, y = pair.split("-")
        both = set(qids[mlqa.questions.lang == x]) & set(qids[mlqa.questions.lang == y])
        assert qrels_queries(tmp_path / "cross" / f"{pair}.qrels") == both, pair


def test_mrr_averaged_over_the_qrels_equals_the_projects(mlqa, tmp_path):
    """The project's MRR (trec_eval's default: over the run's queries) equals the MRR over the qrels' queries
    (`trec_eval -c`: a judged query missing from the run counts 0), since both list the same questions."""
    tables = evaluation_set(mlqa, sorted(set(mlqa.questions.lang)), 6, 0, None)
    rng = np.random.default_rng(0)
    candidates = rng.standard_normal((len(tables.candidates), 16)).astype(np.float32)
    # a question points at its answers (in every language) through noise: ranks spread from 1 to past the depth
    row = dict(zip(tables.candidates.candidate_id, range(len(tables.candidates))))
    answers = tables.qrels.groupby("question_id").candidate_id.agg(lambda ids: [row[c] for c in ids])
    questions = np.stack([candidates[answers[qid]].mean(0) for qid in tables.questions.question_id])
    questions = (questions + 1.5 * rng.standard_normal(questions.shape)).astype(np.float32)
    depth = 20
    report = search(tables, questions, candidates, depth, tmp_path / "runs", settings=SETTINGS)
    write_qrels(tables, tmp_path / "qrels", SETTINGS)
    project = metrics.evaluate(tables, tmp_path / "runs", report.ranks, ["RR"], depth, exact=True, settings=SETTINGS)
    project = project[project.metric == "RR"].groupby(["setting", "query_lang", "passage_lang"]).value.mean()
    units = list(query_sets(tables, SETTINGS))
    assert any(u.name == "cross/ar-de" for u in units) and len(units) > 40
    for unit in units:
        qrels = list(ir_measures.read_trec_qrels(str(tmp_path / "qrels" / f"{unit.name}.qrels")))
        run = list(ir_measures.read_trec_run(str(tmp_path / "runs" / f"{unit.name}.trec")))
        found = {m.query_id: m.value for m in ir_measures.iter_calc([ir_measures.RR], qrels, run)}
        judged = {q.query_id for q in qrels}
        over_qrels = sum(found.get(q, 0.0) for q in judged) / len(judged)
        assert over_qrels == pytest.approx(project[unit.setting, unit.query_lang, unit.passage_lang], abs=1e-12), unit.name
        assert set(found) == judged, unit.name
    assert 0.05 < project.mean() < 0.95  # neither every answer first nor none found
