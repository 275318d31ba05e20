"""
The model report: the HTML of the Jinja2 template with matplotlib's inline SVG charts, rendered from realistic
inputs (the real UCI Adult frame, curves from a seeded sample through scikit-learn), parsed and checked; and the
same page in headless Chromium at 1280 px (test-artifacts/report-sample.html and .png).
"""

from __future__ import annotations

import base64
import math
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from airflow_automl_provider.report import (
    MAX_CURVE_POINTS,
    TOP_FEATURES,
    data_summary,
    fmt_count,
    fmt_seconds,
    fmt_share,
    render_report,
    validation_curves,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE_FEATURE = "<script>alert(1)</script>"
MATH_FEATURE = "$x^2$ & <b>price</b>"  # mathtext and HTML: both must stay literal text
HOSTILE_MODEL = 'm<script>alert("x")</script>/a b'
MODEL = "adult_gbm.v2-1"
THRESHOLD = 0.46
NUMBER = re.compile(r"^[−-]?\d+(\.\d+)?%?$")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None, css_class: str | None = None):
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (css_class is None or css_class in child.classes):
                    yield child
                yield from child.iter(tag, css_class)

    def one(self, tag: str, css_class: str | None = None) -> Node:
        found = list(self.iter(tag, css_class))
        assert len(found) == 1, f"{len(found)} <{tag} class={css_class}> elements"
        return found[0]


class Page(HTMLParser):
    """The document as a tree; every element that is opened must be closed in order (the template writes no
    optional end tags), so a mismatch means broken markup."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.errors: list[str] = []
        self.doctype: str | None = None
        self.feed(text)
        self.close()
        if self.current is not self.root:
            self.errors.append(f"<{self.current.tag}> never closed")

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.current.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.current.tag}>")
            return
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    page = Page(html)
    assert page.doctype and page.doctype.lower() == "doctype html"
    assert page.errors == []
    return page.root


def svg_texts(svg: Node) -> list[str]:
    return [t.text().strip() for t in svg.iter("text")]


def cell_texts(table: Node, css_class: str = "name") -> list[str]:
    return [td.text().strip() for td in table.iter("td", css_class)]


@pytest.fixture(scope="module")
def sample():
    """A seeded binary sample: 20,000 labels at a 24% positive rate and scores that separate them (AUROC ~0.9)."""
    rng = np.random.default_rng(7)
    y = (rng.random(20_000) < 0.24).astype(int)
    scores = 1 / (1 + np.exp(-(2.4 * y - 1.4 + rng.normal(0, 1, len(y)))))
    return y, scores


@pytest.fixture(scope="module")
def frame(adult_frames):
    """The real Adult training frame with two hostile feature names added."""
    df = adult_frames[0].copy()
    df[HOSTILE_FEATURE] = df["age"]
    df[MATH_FEATURE] = df["hours_per_week"]
    return df


def importance_records(features: list[str], seed: int = 3) -> list[dict]:
    """Permutation importance records shaped as AutoGluon's ``feature_importance()`` gives them, one negative."""
    rng = np.random.default_rng(seed)
    values = rng.gamma(1.2, 0.01, len(features))
    values[-1] = -0.0021
    return [
        {
            "feature": f,
            "importance": float(v),
            "stddev": float(abs(v) / 8),
            "p_value": float(rng.random() / 1e3),
            "n": 5,
            "p99_high": float(v * 1.2),
            "p99_low": float(v * 0.8),
        }
        for f, v in zip(features, values, strict=True)
    ]


LEADERBOARD = [
    {"model": "WeightedEnsemble_L2", "score_val": 0.921337, "eval_metric": "roc_auc", "pred_time_val": 0.0412,
     "fit_time": 12.345, "pred_time_val_marginal": 0.0011, "fit_time_marginal": 0.2, "stack_level": 2,
     "can_infer": True, "fit_order": 4},
    {"model": "LightGBM", "score_val": 0.9198, "eval_metric": "roc_auc", "pred_time_val": 0.0203,
     "fit_time": 1.31, "pred_time_val_marginal": 0.0203, "fit_time_marginal": 1.31, "stack_level": 1,
     "can_infer": True, "fit_order": 1},
    {"model": "CatBoost", "score_val": 0.9187, "eval_metric": "roc_auc", "pred_time_val": 0.0094,
     "fit_time": 75.2, "pred_time_val_marginal": 0.0094, "fit_time_marginal": 75.2, "stack_level": 1,
     "can_infer": True, "fit_order": 2},
]  # fmt: skip


def binary_summary(df, curves, model_name: str = MODEL) -> dict:
    """The summary dict the train operator passes (AutoGluonTrainOperator.execute)."""
    return {
        "model_name": model_name,
        "problem_type": "binary",
        "eval_metric": "roc_auc",
        "positive_class": ">50K",
        "best_model": "WeightedEnsemble_L2",
        "score_val": 0.921337,
        "num_rows_train": len(df),
        "features": [c for c in df.columns if c != "class"],
        "validation_auroc": curves["auroc"],
        "fit_seconds": 63.214,
        "input_table": "main.adult_train",
        "shared_model": "0b6f3f5e-8d0f-4c43-9d56-0d6f2f8a8c11",
        "time_limit": 120.0,
        "presets": "medium_quality",
        "importance_data": "AutoGluon's holdout rows",
    }


@pytest.fixture(scope="module")
def binary(frame, sample):
    curves = validation_curves(*sample, threshold=THRESHOLD)
    features = [c for c in frame.columns if c != "class"]
    importance = importance_records(features)
    html = render_report(
        binary_summary(frame, curves),
        LEADERBOARD,
        importance,
        data=data_summary(frame, "class"),
        curves=curves,
    )
    return html, curves, importance


@pytest.mark.unit
def test_report_shows_the_fit_with_formatted_numbers(binary, frame):
    html, curves, _ = binary
    dom = parse(html)
    assert dom.one("title").text() == f"Model report: {MODEL}"
    assert dom.one("h1").text() == f"Model report: {MODEL}"
    facts = {tr.one("th").text(): tr.one("td").text() for tr in dom.one("table", "facts").iter("tr")}
    assert facts["Problem type"] == "binary"
    assert facts["Eval metric"] == "roc_auc"
    assert facts["Positive class"] == ">50K"
    assert facts["Best model"] == "WeightedEnsemble_L2"
    assert facts["Validation roc_auc"] == "0.9213"
    assert facts["Validation AUROC"] == f"{curves['auroc']:.4f}"
    assert facts["Time limit"] == "2 min"
    assert facts["Presets"] == "medium_quality"
    assert facts["Training rows"] == f"{len(frame):,}" == "32,561"
    assert facts["Features"] == f"{len(frame.columns) - 1}"
    assert facts["Fit time"] == "1 min 03 s"
    assert facts["Input table"] == "main.adult_train"
    assert facts["Shared model id"] == "0b6f3f5e-8d0f-4c43-9d56-0d6f2f8a8c11"

    # Data: the features with their types and missing shares, the class balance as shares.
    features = dom.one("table", "features")
    assert cell_texts(features) == [c for c in frame.columns if c != "class"]
    rows = {tr.one("td", "name").text(): [td.text() for td in tr.iter("td")] for tr in features.one("tbody").iter("tr")}
    assert rows["workclass"][1:] == ["object", f"{frame['workclass'].isna().mean():.1%}", "8"]
    assert rows["fnlwgt"][3] == f"{frame['fnlwgt'].nunique():,}"
    balance = {tr.one("td", "name").text(): tr for tr in dom.one("table", "class-balance").one("tbody").iter("tr")}
    assert set(balance) == {"<=50K", ">50K"}
    low = (frame["class"] == "<=50K").sum()
    assert [td.text() for td in balance["<=50K"].iter("td")] == ["<=50K", f"{low:,}", f"{low / len(frame):.1%}"]

    # Leaderboard: scores with 4 decimals, times in sensible units, the best model marked.
    board = dom.one("table", "leaderboard")
    assert [th.text() for th in board.one("thead").iter("th")] == [
        "#", "Model", "Validation roc_auc", "Fit time", "Prediction time (validation)", "Stack level",
    ]  # fmt: skip
    body = [[td.text() for td in tr.iter("td")] for tr in board.one("tbody").iter("tr")]
    assert body == [
        ["1", "WeightedEnsemble_L2", "0.9213", "12.3 s", "41 ms", "2"],
        ["2", "LightGBM", "0.9198", "1.3 s", "20 ms", "1"],
        ["3", "CatBoost", "0.9187", "1 min 15 s", "9 ms", "1"],
    ]
    assert [tr.classes for tr in board.one("tbody").iter("tr")] == [["best"], [], []]


@pytest.mark.unit
def test_confusion_matrix_at_the_decision_threshold(binary, sample):
    html, curves, _ = binary
    y, scores = sample
    predicted = scores >= THRESHOLD
    tn, fp = int(((y == 0) & ~predicted).sum()), int(((y == 0) & predicted).sum())
    fn, tp = int(((y == 1) & ~predicted).sum()), int(((y == 1) & predicted).sum())
    assert min(tn, tp) > 1000  # so the thousands separator is exercised
    dom = parse(html)
    assert f"decision threshold {THRESHOLD}" in dom.text()
    matrix = dom.one("table", "confusion")
    for name, count, total in (("tn", tn, tn + fp), ("fp", fp, tn + fp), ("fn", fn, fn + tp), ("tp", tp, fn + tp)):
        assert " ".join(matrix.one("td", name).text().split()) == f"{count:,} ({count / total:.1%})"
    headers = [th.text() for th in matrix.iter("th")]
    assert "Predicted positive (>50K)" in headers and "Actual negative (<=50K)" in headers
    rates = {tr.one("th").text(): tr.one("td").text() for tr in dom.one("table", "rates").one("tbody").iter("tr")}
    assert rates["Accuracy"] == f"{(tn + tp) / len(y):.4f}"
    assert rates["Precision"] == f"{tp / (tp + fp):.4f}"
    assert rates["Recall (true positive rate)"] == f"{tp / (tp + fn):.4f}"
    assert rates["False positive rate"] == f"{fp / (fp + tn):.4f}"


@pytest.mark.unit
def test_curves_are_matplotlib_svg_with_ticks_labels_and_legends(binary, sample):
    html, curves, _ = binary
    y, scores = sample
    dom = parse(html)
    assert dom.one("b", "auroc").text() == f"{roc_auc_score(y, scores):.4f}"
    assert dom.one("b", "average-precision").text() == f"{average_precision_score(y, scores):.4f}"
    roc, pr = dom.one("svg", "chart-roc"), dom.one("svg", "chart-pr")
    for svg, x_label, y_label in (
        (roc, "False positive rate", "True positive rate (recall)"),
        (pr, "Recall", "Precision"),
    ):
        texts = svg_texts(svg)
        # Tick values 0.0 ... 1.0 on both axes, as text the browser draws.
        ticks = [t for t in texts if NUMBER.match(t)]
        assert sorted(ticks) == sorted(2 * ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        assert x_label in texts and y_label in texts
        assert len(list(svg.iter("use"))) >= 12  # the tick marks
    roc_texts, pr_texts = svg_texts(roc), svg_texts(pr)
    assert f"model (AUROC {roc_auc_score(y, scores):.4f})" in roc_texts
    assert "chance (AUROC 0.5000)" in roc_texts
    assert f"model (average precision {average_precision_score(y, scores):.4f})" in pr_texts
    assert f"positive rate {y.mean():.1%} (chance)" in pr_texts
    assert f"decision threshold {THRESHOLD}" in roc_texts and f"decision threshold {THRESHOLD}" in pr_texts
    assert "ROC curve" in roc_texts and "Precision-recall curve" in pr_texts
    # The sample has thousands of distinct scores; the report keeps at most MAX_CURVE_POINTS of each curve.
    assert len(curves["roc"]) == len(curves["pr"]) == MAX_CURVE_POINTS


@pytest.mark.unit
def test_svg_is_small_offline_and_stripped(binary):
    html, _, _ = binary
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert len(svg) < 40_000, len(svg)
        assert "<image" not in svg  # nothing rasterised
        assert "<metadata" not in svg and "Matplotlib v" not in svg and "dc:date" not in svg
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg
        assert "<text" in svg and "DejaVuSans-" not in svg  # text as text, no glyph paths
    assert "<?xml" not in html and "DOCTYPE svg" not in html
    # Nothing to load from anywhere: no src, no external href, no url() but the SVG's own fragments.
    assert " src=" not in html
    assert not re.search(r'href="(?!#|\.\./)', html)
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html))
    # The ids of the three charts (clip paths, tick markers) do not collide within the page.
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


@pytest.mark.unit
def test_feature_importance_bars_escaped_names_and_no_script(binary):
    html, _, importance = binary
    assert "<script" not in html.lower()
    dom = parse(html)
    chart = dom.one("svg", "chart-importance")
    texts = svg_texts(chart)
    ranked = [r["feature"] for r in sorted(importance, key=lambda r: -r["importance"])]
    assert len(ranked) < TOP_FEATURES
    # The y tick labels are the features, most important first; hostile names are plain text.
    labels = [t for t in texts if t in set(ranked)]
    assert labels == ranked
    assert HOSTILE_FEATURE in texts and MATH_FEATURE in texts
    assert "Importance: drop in roc_auc when the feature's values are shuffled" in texts
    assert "Feature" in texts
    assert sum(bool(NUMBER.match(t)) for t in texts) >= 3  # x tick values
    # The one negative importance (shuffling the feature helped) is the red bar.
    assert sum("fill: #d62728" in (p.attrs.get("style") or "") for p in chart.iter("path")) == 1
    caption = " ".join(chart.parent.one("figcaption").text().split())
    assert caption.startswith(
        "Permutation importance (AutoGluon's feature_importance), computed on AutoGluon's holdout"
    )
    assert "Importance data" not in dom.one("table", "facts").text()
    table = dom.one("table", "importance")
    assert cell_texts(table) == ranked
    assert HOSTILE_FEATURE in cell_texts(dom.one("table", "features"))
    first = next(table.one("tbody").iter("tr"))
    best = max(importance, key=lambda r: r["importance"])
    assert [td.text() for td in first.iter("td")][2:4] == [f"{best['importance']:.4f}", f"{best['stddev']:.4f}"]


@pytest.mark.unit
def test_top_features_only_in_the_chart(sample, frame):
    features = [f"feature_{i:03d}" for i in range(60)]
    importance = importance_records(features, seed=11)
    curves = validation_curves(*sample)
    html = render_report(binary_summary(frame, curves), LEADERBOARD, importance, curves=curves)
    dom = parse(html)
    top = [r["feature"] for r in sorted(importance, key=lambda r: -r["importance"])][:TOP_FEATURES]
    assert [t for t in svg_texts(dom.one("svg", "chart-importance")) if t.startswith("feature_")] == top
    assert f"Feature importance (top {TOP_FEATURES})" in svg_texts(dom.one("svg", "chart-importance"))
    assert len(cell_texts(dom.one("table", "importance"))) == 60
    assert "decision threshold 0.5" in dom.text()  # no threshold given: 0.5


@pytest.mark.unit
def test_back_links_are_relative_and_quoted(binary):
    html, _, _ = binary
    dom = parse(html)
    model_href = dom.one("a", "model-page").attrs["href"]
    experiments_href = dom.one("a", "experiments").attrs["href"]
    # Where the plugin serves the report, the links open the model's page and the experiments list.
    served = f"http://airflow.example:8080/some/base/automl/models/{quote(MODEL, safe='')}/report"
    assert urljoin(served, model_href) == f"http://airflow.example:8080/some/base/automl/models/{MODEL}"
    assert urljoin(served, experiments_href) == "http://airflow.example:8080/some/base/automl/experiments"

    hostile = render_report({"model_name": HOSTILE_MODEL}, [], [])
    assert "<script" not in hostile.lower()
    page = parse(hostile)
    assert page.one("h1").text() == f"Model report: {HOSTILE_MODEL}"
    assert page.one("title").text() == f"Model report: {HOSTILE_MODEL}"
    href = page.one("a", "model-page").attrs["href"]
    assert href == "../" + quote(HOSTILE_MODEL, safe="") == "../m%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%2Fa%20b"
    assert page.one("a", "experiments").attrs["href"] == "../../experiments"


@pytest.mark.unit
def test_regression_without_curves_or_importance(adult_frames):
    df = adult_frames[0]
    data = data_summary(df, "hours_per_week", problem_type="regression")
    assert data["class_balance"] == []
    summary = {
        "model_name": "hours",
        "problem_type": "regression",
        "eval_metric": "root_mean_squared_error",
        "best_model": "LightGBM",
        "score_val": -11.234567,
        "num_rows_train": len(df),
        "features": [c for c in df.columns if c != "hours_per_week"],
        "validation_auroc": None,
        "fit_seconds": 0.42,
        "time_limit": None,
        "presets": None,
        "input_table": "main.adult_train",
        "shared_model": None,
    }
    board = [{"model": "LightGBM", "score_val": -11.234567, "fit_time": 0.3, "pred_time_val": 0.0004}]
    html = render_report(summary, board, [], data=data, curves=None)
    dom = parse(html)
    assert list(dom.iter("svg")) == []
    assert "regression" in dom.one("p", "no-curves").text()
    assert "export_feature_importance" in dom.one("p", "empty").text()
    facts = {tr.one("th").text(): tr.one("td").text() for tr in dom.one("table", "facts").iter("tr")}
    assert facts["Time limit"].startswith("none") and facts["Presets"] == "AutoGluon's default"
    assert facts["Validation root_mean_squared_error"] == "-11.2346"
    assert facts["Fit time"] == "420 ms"
    assert "Validation AUROC" not in facts and "Shared model id" not in facts
    stats = {tr.one("th").text(): tr.one("td").text() for tr in dom.one("table", "target-stats").iter("tr")}
    assert stats["median"] == f"{df['hours_per_week'].median():.4f}"
    assert stats["maximum"] == f"{df['hours_per_week'].max():.4f}"
    lb = [td.text() for td in dom.one("table", "leaderboard").one("tbody").iter("td")]
    assert lb == ["1", "LightGBM", "-11.2346", "300 ms", "< 1 ms"]


@pytest.mark.unit
def test_multiclass_and_bare_summaries(adult_frames):
    df = adult_frames[0]
    data = data_summary(df, "race")
    assert len(data["class_balance"]) == df["race"].nunique() == 5
    summary = {"model_name": "race", "problem_type": "multiclass", "eval_metric": "log_loss", "extra_note": 3}
    html = render_report(summary, [{"model": "CatBoost", "score_val": -0.45671}], [], data=data)
    dom = parse(html)
    assert list(dom.iter("svg")) == []
    assert "multiclass" in dom.one("p", "no-curves").text()
    assert cell_texts(dom.one("table", "class-balance")) == [str(c) for c in df["race"].value_counts().index]
    facts = {tr.one("th").text(): tr.one("td").text() for tr in dom.one("table", "facts").iter("tr")}
    assert facts["Extra note"] == "3"  # a key the report does not know is still shown
    assert "-0.4567" in dom.one("table", "leaderboard").text()
    # Nothing but a model name: every section says what is missing instead of failing.
    bare = parse(render_report({"model_name": "bare"}, [], []))
    assert bare.one("p", "no-curves") and bare.one("h1").text() == "Model report: bare"
    assert [p.text() for p in bare.iter("p", "empty")][0] == "No leaderboard was recorded."


@pytest.mark.unit
def test_a_class_list_is_capped(adult_frames):
    df = adult_frames[0]
    data = data_summary(df, "native_country", max_classes=10)
    assert len(data["class_balance"]) == 10 and data["classes"] == df["native_country"].nunique()
    assert data["target_stats"] is None
    dom = parse(render_report({"model_name": "country"}, [], [], data=data))
    assert f"The 10 most frequent of {data['classes']} classes." in dom.text()


@pytest.mark.unit
def test_renders_in_parallel_threads_like_alone(binary, frame, sample):
    """matplotlib's settings are process-wide: reports drawn at the same time must not mix them."""
    curves = validation_curves(*sample, threshold=THRESHOLD)
    args = (binary_summary(frame, curves), LEADERBOARD, importance_records([c for c in frame.columns if c != "class"]))
    kwargs = {"data": data_summary(frame, "class"), "curves": curves}
    alone = render_report(*args, **kwargs)
    assert alone == binary[0]  # no date, no random ids: the same inputs give the same file
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(render_report(*args, **kwargs))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(results) == 4
    assert all(r == alone for r in results)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        (fmt_count, 32561, "32,561"),
        (fmt_count, 1_234_567.0, "1,234,567"),
        (fmt_count, None, "–"),
        (fmt_share, 0.0, "0%"),
        (fmt_share, 0.0004, "< 0.1%"),
        (fmt_share, 0.9996, "> 99.9%"),
        (fmt_share, 0.2408, "24.1%"),
        (fmt_share, math.nan, "–"),
        (fmt_seconds, 0.0412, "41 ms"),
        (fmt_seconds, 3.21, "3.2 s"),
        (fmt_seconds, 125, "2 min 05 s"),
        (fmt_seconds, 3600, "1 h"),
        (fmt_seconds, 3725, "1 h 02 min"),
        (fmt_seconds, "n/a", "–"),
    ],
)
def test_number_formats(fmt, value, expected):
    assert fmt(value) == expected


@pytest.mark.system
def test_sample_report_in_chromium_at_1280_px(binary, tmp_path):
    """The sample report in headless Chromium: nothing wider than 1280 px, no chart text overlapping other text."""
    from tests.system.test_ui_browser import Browser

    html, _, _ = binary
    ARTIFACTS.mkdir(exist_ok=True)
    sample = ARTIFACTS / "report-sample.html"
    sample.write_text(html)
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium is not installed: run scripts/install-browser.sh")
    browser = Browser(chromium, tmp_path / "profile")
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        browser.open(sample.as_uri(), "document.querySelectorAll('svg.chart').length === 3")
        assert browser.js("document.documentElement.scrollWidth") <= 1280
        assert browser.js("Math.max(...[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().right))") <= 1280  # fmt: skip
        # Within each chart: every text at least 10 px high, and no text overlapping another.
        overlaps = browser.js(
            """[...document.querySelectorAll('svg.chart')].flatMap(svg => {
                 const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
                 const out = [];
                 boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, s]) => {
                   if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
                     out.push(svg.getAttribute('class') + ': ' + a + ' / ' + b);
                 }));
                 return out;
               })"""
        )
        assert overlaps == []
        assert browser.js("Math.min(...[...document.querySelectorAll('svg.chart text')].map(t => t.getBoundingClientRect().height))") >= 10  # fmt: skip
        height = browser.js("document.documentElement.scrollHeight")
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        (ARTIFACTS / "report-sample.png").write_bytes(base64.b64decode(shot))
    finally:
        browser.close()
    assert (ARTIFACTS / "report-sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
