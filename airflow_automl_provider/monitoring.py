"""
The drift monitor's decision: pure functions from the day's measurements to "alert" or "no drift".

Kept apart from the operators so the rules are tested without Airflow, and so the DAG's
``BranchPythonOperator`` callable stays light (no heavy imports at parse or run time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class DriftRules:
    """
    When a day's batch counts as drifted.

    :param auc_threshold: alert when the AUROC is under this (digdag's ``drift_auc_threshold``).
    :param max_auc_drop: alert when the AUROC is more than this under the model's validation AUROC.
    :param max_drifted_share: alert when more than this share of the features drifted.
    :param significance: ``"none"`` compares the AUROC itself; ``"delong"`` compares the upper bound of
        its DeLong confidence interval, so only a drop that is statistically real alerts.
    :param consecutive_runs: alert on the AUROC only after this many runs in a row under the threshold.
    """

    auc_threshold: float = 0.93
    max_auc_drop: float | None = None
    max_drifted_share: float | None = 0.5
    significance: str = "none"
    consecutive_runs: int = 1


@dataclass
class Decision:
    alert: bool
    status: str
    reasons: list[str] = field(default_factory=list)


def decide(performance: Mapping[str, Any], data_drift: Mapping[str, Any] | None, rules: DriftRules) -> Decision:
    """
    Apply the rules to the performance XCom (``auc``, ``rows``, ``status``, ``baseline``,
    ``auc_high``, ``consecutive_below``) and the data drift XCom (``drifted_share``, ``drifted``).
    """
    if performance.get("status") == "insufficient_data":
        # The AUROC cannot be judged today; the data's drift still can.
        why = performance.get("reason") or "batch too small to judge"
        drifted = _data_drift_reasons(data_drift, rules)
        if drifted:
            return Decision(True, "drift", [*drifted, f"AUROC not judged: {why}"])
        return Decision(False, "insufficient_data", [why])
    reasons: list[str] = []
    auc = float(performance["auc"])
    # With DeLong, judge the best the model could plausibly be doing today, not the point estimate.
    judged = float(performance["auc_high"]) if rules.significance == "delong" else auc
    what = (
        f"upper {performance.get('confidence', 0.95):.0%} bound {judged:.4f} of AUROC"
        if rules.significance == "delong"
        else "AUROC"
    )
    if judged < rules.auc_threshold:
        run = int(performance.get("consecutive_below") or 1)
        if run >= rules.consecutive_runs:
            suffix = f", {run} runs in a row" if rules.consecutive_runs > 1 else ""
            reasons.append(f"{what} {auc:.4f} is under the threshold {rules.auc_threshold}{suffix}")
    baseline = performance.get("baseline")
    if rules.max_auc_drop is not None and baseline is not None and float(baseline) - judged > rules.max_auc_drop:
        reasons.append(
            f"{what} {auc:.4f} dropped {float(baseline) - auc:.4f} under the validation AUROC {float(baseline):.4f} "
            f"(more than {rules.max_auc_drop})"
        )
    reasons += _data_drift_reasons(data_drift, rules)
    return Decision(bool(reasons), "drift" if reasons else "ok", reasons)


def _data_drift_reasons(data_drift: Mapping[str, Any] | None, rules: DriftRules) -> list[str]:
    if not data_drift or rules.max_drifted_share is None:
        return []
    share = float(data_drift.get("drifted_share") or 0.0)
    if share <= rules.max_drifted_share:
        return []
    names = ", ".join(f["feature"] for f in data_drift.get("drifted", []))
    return [f"{share:.0%} of the features drifted (more than {rules.max_drifted_share:.0%}): {names}"]


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    """Link to a DAG run in the Airflow 3 UI."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def choose_branch(ti: Any, params: Mapping[str, Any], dag_run: Any, **_: Any) -> list[str]:
    """
    The monitor DAG's ``BranchPythonOperator`` callable: push the day's report, return the task ids to follow.

    Reads the XComs of ``performance``, ``data_drift`` and ``select_model``.
    """
    from airflow.sdk import conf

    performance = ti.xcom_pull(task_ids="performance") or {}
    data_drift = ti.xcom_pull(task_ids="data_drift") or {}
    model = ti.xcom_pull(task_ids="select_model") or {}
    predicted = ti.xcom_pull(task_ids="predict") or {}
    rules = DriftRules(
        auc_threshold=float(params["drift_auc_threshold"]),
        max_auc_drop=_optional_float(params.get("max_auc_drop")),
        max_drifted_share=_optional_float(params.get("max_drifted_share")),
        significance=params.get("significance") or "none",
        consecutive_runs=int(params.get("consecutive_runs") or 1),
    )
    decision = decide(performance, data_drift, rules)
    base_url = conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    report = {
        "model_name": model.get("model_name"),
        "auroc": performance.get("auc"),
        "pr_auc": performance.get("pr_auc"),
        "status": decision.status,
        "alert": decision.alert,
        "reasons": decision.reasons,
        "auc": performance.get("auc"),
        "auc_low": performance.get("auc_low"),
        "auc_high": performance.get("auc_high"),
        "rows": performance.get("rows"),
        "positives": performance.get("positives"),
        "threshold": rules.auc_threshold,
        "baseline": performance.get("baseline"),
        "drifted": data_drift.get("drifted", []),
        "drifted_share": data_drift.get("drifted_share"),
        "run_url": run_link(base_url, ti.dag_id, ti.run_id),
        # Rows of the monitored table whose time did not read as one: in no day's batch.
        "unreadable_time_rows": predicted.get("unreadable_time_rows"),
    }
    ti.xcom_push(key="report", value=report)
    if not decision.alert:
        return ["record_evaluation", "no_drift"]
    return ["record_evaluation", "alert", *(["retrain"] if params.get("retrain") else [])]


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)
