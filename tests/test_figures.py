"""Figures and tables drawn from a small fixture study: the files open and show the expected panels."""

from types import SimpleNamespace

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from xlretrieval import figures
from xlretrieval.metrics import summarise
from xlretrieval.stats import cell_intervals, cells, paired
from xlretrieval.tables import collect, headline_table, language_table, loss_table, paired_test_table, paper_table, published_note, write_table

from conftest import ROOT
from synthetic import ROLES, synthetic_study

MAIN = ["xx-mono", "x-y", "hybrid-a0.5"]


@pytest.fixture(scope="module")
def study():
    """base, xx-mono, x-y, hybrid-a0.5 at k 1 (two draws) and 2, hybrid-a0.25 at k 2 only; el never trained."""
    models, languages = synthetic_study(
        np.random.default_rng(0),
        n_questions=40,
        shifts={"base": -0.1, "xx-mono": 0.0, "x-y": 0.05, "hybrid-a0.5": 0.1},
        metrics=("RR", "AP", "R@1", "rank_distance"),
        settings=("mono", "cross", "multi"),
        sweep=("hybrid-a0.25",),
    )
    runs = cells.runs_table(list(models), languages)
    matrix = cells.question_matrix(models.items())
    return SimpleNamespace(
        languages=languages,
        metrics=collect({(tag, "xquad-r"): summarise(frame) for tag, frame in models.items()}, languages, ROLES),
        intervals=cell_intervals.intervals(matrix, runs, "xquad-r", ROLES["xquad-r"]),
        tests=paired.paired_tests(matrix, runs, "xquad-r", ROLES["xquad-r"], "RR", MAIN, resamples=200, permutations=500),
        losses=loss_table(
            {
                tag: pd.DataFrame(
                    {
                        "step": range(4),
                        "loss": 1.0,
                        "learning_rate": 1e-4,
                        "batch_kind": ["xx-mono", "x-y", "x-y", "x-y"]
                        if tag.startswith("hybrid-a0.25")
                        else ["xx-mono", "xx-mono", "x-y", "x-y"]
                        if tag.startswith("hybrid")
                        else ["xx-mono"] * 4
                        if tag.startswith("xx-mono")
                        else ["x-y"] * 4,
                    }
                )
                for tag in models
                if tag != "base"
            }
        ),
    )


def saved(figure, tmp_path, name):
    """Save as PNG and PDF; return the PNG's pixels."""
    png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
    figures.save(figure, [png, pdf])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300 and pixels[..., :3].std() > 0.05
    return pixels


def legend_labels(figure):
    return [t.get_text() for legend in figure.legends for t in legend.get_texts()]


def test_scaling_figure_shows_gains_over_base_on_fixed_language_groups(study, tmp_path):
    figure = figures.scaling_figure(study.intervals, "xquad-r", "RR", MAIN)
    shown = [ax for ax in figure.axes if ax.axison]
    titles = [ax.get_title() for ax in shown]
    assert titles == [f"{s}, held-out languages" for s in ("mono", "cross", "multi")] + ["mono, source languages", "multi, source languages"]
    assert shown[0].get_ylabel() == "MRR gain over base" and shown[3].get_xlabel() == "target languages k"
    assert legend_labels(figure) == ["xx-mono", "x-y", "hybrid-a0.5"]  # gains: no base line; the sweep-only hybrid is left out
    assert len(shown[0].collections) == 3  # one band per strategy
    assert list(shown[0].get_xticks()) == [1, 2]
    gains = study.intervals[
        (study.intervals.quantity == "gain")
        & (study.intervals.lang_group == "held-out")
        & (study.intervals.metric == "RR")
        & (study.intervals.setting == "mono")
        & (study.intervals.query_lang == "all")
    ]
    hybrid = gains[gains.strategy == "hybrid-a0.5"].sort_values("k").estimate.to_numpy()
    np.testing.assert_allclose(shown[0].lines[2].get_ydata(), hybrid)
    saved(figure, tmp_path, "scaling")


def test_groups_figure_splits_the_pool_by_the_run(study, tmp_path):
    figure = figures.groups_figure(study.intervals, "xquad-r", "RR", MAIN)
    titles = [ax.get_title() for ax in figure.axes if ax.axison]
    assert "mono, trained languages" in titles and "cross, not-drawn languages" in titles and "mono, held-out languages" in titles
    assert "base" in legend_labels(figure)
    saved(figure, tmp_path, "groups")


def test_language_pair_heatmaps_show_strategies_and_differences(study, tmp_path):
    figure = figures.language_heatmaps(study.metrics, study.languages, "xquad-r", "RR", MAIN)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["xx-mono", "x-y", "hybrid-a0.5", "hybrid-a0.5 - xx-mono", "hybrid-a0.5 - x-y"]
    heatmap = figure.axes[0]
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["de*", "el", "en*", "zh*"]
    assert heatmap.get_xlabel() == "passage language" and heatmap.get_ylabel() == "query language"
    assert len(heatmap.texts) == 16  # every cell annotated (readable in grayscale)
    saved(figure, tmp_path, "pairs")


def test_rank_distance_and_held_out_language_figures(study, tmp_path):
    bias = figures.rank_distance_figure(study.intervals, "xquad-r", MAIN)
    assert [ax.get_title() for ax in bias.axes] == ["multi: held-out query languages", "multi: source query languages"]
    assert bias.axes[0].get_ylabel().startswith("max rank distance")
    saved(bias, tmp_path, "bias")
    unseen = figures.held_out_language_figure(study.intervals, ["el"], "xquad-r", "RR", MAIN)
    assert [ax.get_title() for ax in unseen.axes] == ["mono: el", "cross: el", "multi: el"]
    saved(unseen, tmp_path, "unseen")


def test_alpha_figure_spans_x_y_to_x_x_mono(study, tmp_path):
    figure = figures.alpha_figure(study.intervals, study.losses, "xquad-r", "RR", 2)
    ax = figure.axes[0]
    # the x axis is the share of X-X-mono batches in each model's loss log (1 of 4 for hybrid-a0.25)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0\nX-Y", "0.25", "0.5", "1\nX-X-mono"]
    assert ax.get_title() == "mono" and ax.get_ylabel() == "MRR"
    assert "held-out languages" in legend_labels(figure) and "base, source" in legend_labels(figure)
    saved(figure, tmp_path, "alpha")
    realised = figures.realised_alpha(study.losses.assign(batch_kind="x-y"))
    assert (realised == 0).all()
    with pytest.raises(ValueError, match="fewer than two alphas at k=1"):
        figures.alpha_figure(study.intervals[study.intervals.strategy != "x-y"].query("strategy != 'xx-mono'"), study.losses, "xquad-r", "RR", 1)


def test_loss_and_top_language_figures(tmp_path):
    steps = np.arange(8)
    losses = loss_table(
        {
            tag: pd.DataFrame({"step": steps, "loss": 2.0 - 0.1 * steps + i * 0.2, "learning_rate": 1e-4, "batch_kind": "x-y"})
            for i, tag in enumerate(["x-y/k1/draw0/seed0", "x-y/k1/draw1/seed0", "xx-mono/k2/draw0/seed0"])
        }
    )
    figure = figures.loss_figure(losses)
    assert [ax.get_title() for ax in figure.axes] == ["k=1", "k=2"]
    assert [len(ax.lines) for ax in figure.axes] == [4, 2]  # each run: every step (faint) and a running mean
    assert figure.axes[0].get_ylabel().startswith("InfoNCE loss")
    saved(figure, tmp_path, "loss")
    shares = pd.DataFrame(
        {
            "model": "x",
            "strategy": ["base"] * 2 + ["x-y"] * 2,
            "k": [0, 0, 1, 1],
            "draw": [-1, -1, 0, 0],
            "seed": 0,
            "benchmark": "xquad-r",
            "query_lang": "de",
            "lang_group": "trained",
            "candidate_lang": ["de", "en"] * 2,
            "share": [0.8, 0.2, 0.5, 0.5],
            "n_queries": 10,
        }
    )
    figure = figures.top_language_figure(shares, "xquad-r", MAIN)
    own, by_language = figure.axes[:2]
    assert [t.get_text() for t in own.get_yticklabels()] == ["x-y, k=1", "base"]
    assert [t.get_text() for t in own.get_xticklabels()] == ["query's own"]
    assert [t.get_text() for t in by_language.get_xticklabels()] == ["de", "en"]
    assert [t.get_text() for t in own.texts] == ["50%", "80%"]
    assert [t.get_text() for t in by_language.texts] == ["50%", "50%", "80%", "20%"]
    saved(figure, tmp_path, "top")


def test_paper_table_shows_mean_and_interval_of_the_main_strategies(study, tmp_path):
    means = paper_table(study.metrics, study.languages, ROLES, "xquad-r", strategies=MAIN)
    table = paper_table(study.metrics, study.languages, ROLES, "xquad-r", intervals=study.intervals, strategies=MAIN)
    assert list(table.index) == ["xx-mono", "x-y", "hybrid-a0.5", "base (no fine-tuning)"]
    assert list(table.columns) == [f"{s} {m}" for s in ("Mono", "Cross", "Multi") for m in ("mAP", "MRR", "R@1")] + ["Multi rank dist."]
    cell = table.loc["hybrid-a0.5", "Cross MRR"]
    mean, half = (float(x) for x in cell.split(" ± "))
    assert mean == pytest.approx(means.loc["hybrid-a0.5", "Cross MRR"], abs=5e-4) and 0 < half < 0.2
    assert len(table.loc["x-y", "Multi rank dist."].split(" ± ")[0].split(".")[1]) == 1
    write_table(table, tmp_path / "t.md", tmp_path / "t.tex", "Caption.", tmp_path / "t.html")
    assert "hybrid-a0.5" in (tmp_path / "t.md").read_text() and "\\begin{table}" in (tmp_path / "t.tex").read_text()
    assert "<table" in (tmp_path / "t.html").read_text()


def test_paper_table_shows_the_papers_published_map_beside_the_study(study):
    published = yaml.safe_load((ROOT / "workflow" / "resources" / "published_table1.yaml").read_text())
    table = paper_table(study.metrics, study.languages, ROLES, "xquad-r", strategies=MAIN, published=published)
    paper = [f"{s} mAP, paper† (XLM-R / LaBSE)" for s in ("Mono", "Cross", "Multi")]
    assert list(table.columns[-3:]) == paper
    assert table.loc["hybrid-a0.5", paper].tolist() == ["0.798 / 0.817", "0.705 / 0.767", "0.593 / 0.682"]  # Table 1, Hybrid rows
    assert table.loc["xx-mono", paper[0]] == "0.792 / 0.808" and table.loc["base (no fine-tuning)", paper].tolist() == ["", "", ""]
    note = published_note(published, "xquad-r")
    assert note.startswith(" † Published mAP, not this study's") and "2408.10536" in note and "different model and training scale" in note
    assert published_note(published, "miracl") == ""
    assert list(paper_table(study.metrics, study.languages, ROLES, "xquad-r", strategies=MAIN).columns) == list(table.columns[:-3])


def test_language_table_and_test_table(study):
    table = language_table(study.metrics, study.languages, ROLES, study.intervals, "xquad-r", "RR", MAIN)
    assert list(table.columns) == ["de", "el", "en", "zh"]
    assert table.index[0] == ("mono", "xx-mono") and ("multi", "base") in table.index and len(table) == 12
    assert all(" ± " in cell for cell in table.to_numpy().flat)
    readable = paired_test_table(study.tests, 0.95, permutations=500)
    assert "hybrid-a0.5 vs xx-mono, k=1" in readable.index and "x-y, k=2 vs k=1" in readable.index
    assert "hybrid-a0.5 vs base, k=2" in readable.index
    assert readable["Holm family"].iloc[0] == "primary" and readable.index[0] == "hybrid-a0.5, k=2 vs k=1"
    assert "95% CI, t over runs and questions, Welch-Satterthwaite df" in readable.columns  # every column: test_stats


def test_headline_table_shows_held_out_gains_by_k(study):
    table = headline_table(study.intervals, "xquad-r", "RR", MAIN)
    assert list(table.columns) == ["base", "k=1", "k=2"]
    assert table.index[0] == ("mono", "xx-mono") and len(table) == 9  # 3 settings x 3 strategies
    cell = table.loc[("cross", "hybrid-a0.5"), "k=2"]
    gain = study.intervals.query(
        "quantity == 'gain' and lang_group == 'held-out' and query_lang == 'all' and metric == 'RR' "
        "and setting == 'cross' and strategy == 'hybrid-a0.5' and k == 2"
    )
    assert cell.startswith(f"{gain.estimate.item():+.3f} [{gain.ci_low.item():+.3f}, ")


def test_headline_table_shows_the_held_out_cross_pairs_apart_where_both_kinds_exist(study):
    from xlretrieval.metrics import HELD_OUT_PAIRS

    el_only = headline_table(study.intervals, "xquad-r", "RR", MAIN)  # one held-out language: only held-out x source
    assert not any(":" in setting for setting, _ in el_only.index)
    pair = study.intervals[(study.intervals.lang_group == HELD_OUT_PAIRS[1]) & (study.intervals.query_lang == "all")]
    held = study.intervals[(study.intervals.lang_group == "held-out") & (study.intervals.setting == "cross") & (study.intervals.query_lang == "all")]
    keys = ["metric", "quantity", "strategy", "k"]
    assert pair.set_index(keys).estimate.sort_index().equals(held.set_index(keys).estimate.sort_index())  # el-en is all of it
    both = pd.concat([study.intervals, pair.assign(lang_group=HELD_OUT_PAIRS[0])])
    table = headline_table(both, "xquad-r", "RR", MAIN)
    assert [s for s, _ in table.index if s.startswith("cross")][::3] == ["cross", f"cross: {HELD_OUT_PAIRS[0]}", f"cross: {HELD_OUT_PAIRS[1]}"]


def test_a_strategy_looks_the_same_whatever_else_is_drawn():
    alone = figures.strategy_styles(["x-y", "hybrid-a0.5"])
    with_sweep = figures.strategy_styles(["xx-mono", "x-y", "hybrid-a0.25", "hybrid-a0.5", "hybrid-a0.75", "base"])
    assert alone["hybrid-a0.5"] == with_sweep["hybrid-a0.5"] and alone["x-y"] == with_sweep["x-y"]
    looks = [(tuple(s["color"]), s["marker"]) for s in with_sweep.values()]
    assert len(set(looks)) == len(looks)
