"""The chart's PrometheusRule and Grafana dashboard: rendered only when asked, valid for their
schemas, PromQL that parses, and every series they name exported by the operator, checked against
a real scrape recorded by the end-to-end test (tests/runtime_e2e.rs).

Run: .venv/bin/python -m pytest -q tests/chart
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

import helm_python as helm
import jsonschema
import promql_parser
import pytest

from test_chart import NAMESPACE, REPO, chart, missing_record, notes, of_kind, one, render  # noqa: F401 (chart: the fixture)

ENABLED = {
    "prometheusRule": {"enabled": True, "skipIfMissing": False, "labels": {"release": "kps"}},
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Compliance"}},
}
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
# The spec of monitoring.coreos.com/v1 PrometheusRule, as its CRD (prometheus-operator v0.82)
# defines it, closed where the CRD leaves objects open so a typo fails here.
PROMETHEUS_RULE_SPEC = {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string", "pattern": DURATION},
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["alert", "expr", "labels", "annotations"],
                            "additionalProperties": False,
                            "properties": {
                                "alert": {"type": "string", "pattern": "^[A-Z][A-Za-z]+$"},
                                "expr": {"type": "string"},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": {
                                    "type": "object",
                                    "required": ["severity"],
                                    "properties": {"severity": {"enum": ["critical", "warning", "info"]}},
                                    "additionalProperties": {"type": "string"},
                                },
                                "annotations": {
                                    "type": "object",
                                    "required": ["summary", "description"],
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def alert_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rule = one(objects, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def dashboard(objects: list[dict[str, Any]]) -> dict[str, Any]:
    config_map = next(o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard"))
    return json.loads(config_map["data"]["jumpcloud-operator.json"])


def dashboard_queries(board: dict[str, Any]) -> list[str]:
    queries = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    queries += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return queries


def as_promql(query: str) -> str:
    """Grafana's variables replaced by what they expand to, so the query parses as PromQL."""
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
    if match:
        query = match.group(1)
    query = query.replace("$__rate_interval", "5m")
    return re.sub(r"\$\{?\w+\}?", ".*", query)


def nodes(node: Any) -> Iterator[Any]:
    yield node
    for attribute in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        children = child if isinstance(child, list) else [child]
        for item in children:
            if item is not None and type(item).__module__.startswith("promql_parser"):
                yield from nodes(item)


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(series name, label names matched) of every selector in the expression."""
    found = []
    for node in nodes(promql_parser.parse(expr)):
        if type(node).__name__ == "VectorSelector":
            found.append((node.name, {m.name for m in node.matchers.matchers}))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Every label an aggregation groups by or a binary operation matches on."""
    labels: set[str] = set()
    for node in nodes(promql_parser.parse(expr)):
        modifier = getattr(node, "modifier", None)
        if modifier is None:
            continue
        if type(modifier).__name__ == "AggModifier":
            labels |= set(modifier.labels)
        elif type(modifier).__name__ == "BinModifier" and modifier.matching is not None:
            labels |= set(modifier.matching.labels)
    return labels


def result_labels(node: Any) -> set[str] | None:
    """The labels of an expression's result (`None` for a scalar such as `time()` or `2`)."""
    kind = type(node).__name__
    if kind == "ParenExpr":
        return result_labels(node.expr)
    if kind == "BinaryExpr":
        left = result_labels(node.lhs)
        return left if left is not None else result_labels(node.rhs)
    if kind == "AggregateExpr":
        assert str(node.modifier.type).endswith("By"), "alerts keep only the labels they group by"
        return set(node.modifier.labels)
    if kind in ("NumberLiteral", "Call") and (kind == "NumberLiteral" or node.func.name in ("time", "vector")):
        return None
    raise AssertionError(f"alerts aggregate away the scrape's own labels, found a bare {kind}")


def output_labels(expr: str) -> set[str]:
    """The labels an alert's result carries."""
    labels = result_labels(promql_parser.parse(expr))
    assert labels is not None, f"an alert must give a vector: {expr}"
    return labels


def scraped_series() -> dict[str, set[str]]:
    """Series name -> label names, from the scrape the end-to-end test recorded."""
    if "JUMPCLOUD_OPERATOR_METRICS_SCRAPE" in os.environ:
        path = Path(os.environ["JUMPCLOUD_OPERATOR_METRICS_SCRAPE"])
    else:
        path = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "operator-metrics.txt"
    if not path.is_file():
        missing_record(f"no recorded scrape at {path} (written by tests/runtime_e2e.rs)")
    series: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", line)
        assert match, line
        labels = {pair.split("=", 1)[0] for pair in re.findall(r'\w+="[^"]*"', match.group(3) or "")}
        series.setdefault(match.group(1), set()).update(labels)
    assert series, path
    return series


def test_monitoring_objects_are_rendered_only_when_asked(chart: helm.Chart) -> None:
    default = render(chart, {})
    assert of_kind(default, "PrometheusRule") == []
    assert [o for o in of_kind(default, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")] == []
    # Offline rendering has no monitoring.coreos.com/v1: skipIfMissing keeps the install working.
    skipped = {"prometheusRule": {"enabled": True}}
    assert of_kind(render(chart, skipped), "PrometheusRule") == []
    assert "no PrometheusRule was created" in notes(chart, skipped)

    objects = render(chart, ENABLED)
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kps"
    assert rule["metadata"]["namespace"] == NAMESPACE
    config_map = next(o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard"))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Compliance"}
    elsewhere = render(chart, {"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}})
    assert dashboard(elsewhere) == dashboard(objects)
    assert next(o for o in of_kind(elsewhere, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard"))["metadata"]["namespace"] == "monitoring"


def test_prometheus_rule_is_valid_and_every_alert_parses(chart: helm.Chart) -> None:
    rule = one(render(chart, ENABLED), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    jsonschema.validate(rule["spec"], PROMETHEUS_RULE_SPEC)
    alerts = alert_rules(render(chart, ENABLED))
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), names
    for alert in alerts:
        try:
            promql_parser.parse(alert["expr"])
        except Exception as error:  # the parser raises plain exceptions with the position
            pytest.fail(f"{alert['alert']}: {error}: {alert['expr']}")
        # Annotations may only use the labels the alert's result has.
        have = output_labels(alert["expr"])
        for text in alert["annotations"].values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in have, f"{alert['alert']} uses $labels.{label}, its result has {have}"


def test_the_alerts_a_platform_team_pages_on_are_there(chart: helm.Chart) -> None:
    alerts = {a["alert"]: a for a in alert_rules(render(chart, ENABLED))}
    assert {
        "JumpCloudKeyRejected",
        "JumpCloudKeyExpiresSoon",
        "JumpCloudEvidenceStale",
        "JumpCloudControlNewlyFailing",
        "JumpCloudEvidenceWriteFailed",
    } <= alerts.keys()
    for state in ("KeyRevoked", "KeyExpired", "KeyRejected"):
        assert state in alerts["JumpCloudKeyRejected"]["expr"]
    assert alerts["JumpCloudKeyRejected"]["labels"]["severity"] == "critical"
    tuned = {"prometheusRule": {**ENABLED["prometheusRule"], "keyExpiryWarningDays": 30, "staleIntervals": 3,
                                "additionalLabels": {"team": "platform"}}}
    tuned_alerts = {a["alert"]: a for a in alert_rules(render(chart, tuned))}
    assert "< 30 * 86400" in tuned_alerts["JumpCloudKeyExpiresSoon"]["expr"]
    assert "> 3 * max by" in tuned_alerts["JumpCloudEvidenceStale"]["expr"]
    assert all(a["labels"]["team"] == "platform" for a in tuned_alerts.values())
    extra = {"alert": "JumpCloudCustom", "expr": "vector(1)", "labels": {"severity": "info"},
             "annotations": {"summary": "s", "description": "d"}}
    with_extra = {"prometheusRule": {**ENABLED["prometheusRule"], "extraRules": [extra]}}
    assert extra in alert_rules(render(chart, with_extra))


def test_dashboard_is_self_contained_and_every_query_parses(chart: helm.Chart) -> None:
    board = dashboard(render(chart, ENABLED))
    assert board["uid"] == "jumpcloud-operator"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace", "connection"} <= variables
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
    for query in dashboard_queries(board):
        try:
            promql_parser.parse(as_promql(query))
        except Exception as error:
            pytest.fail(f"{error}: {query}")


def test_every_alert_and_dashboard_query_names_only_series_the_operator_exports(chart: helm.Chart) -> None:
    exported = scraped_series()
    all_labels = set().union(*exported.values())
    objects = render(chart, ENABLED)
    queries = [a["expr"] for a in alert_rules(objects)] + [as_promql(q) for q in dashboard_queries(dashboard(objects))]
    named = set()
    for query in queries:
        for name, labels in selectors(query):
            named.add(name)
            assert name in exported, f"{name} (in {query!r}) is not exported; the scrape has {sorted(exported)}"
            assert labels <= exported[name], f"{name} has no label {labels - exported[name]} (in {query!r})"
        assert grouping_labels(query) <= all_labels, f"{query!r} groups by a label no series has"
    # Every per-connection series a platform team needs is used somewhere.
    for series in (
        "jumpcloud_operator_key_state",
        "jumpcloud_operator_key_expiry_timestamp_seconds",
        "jumpcloud_operator_last_successful_sync_timestamp_seconds",
        "jumpcloud_operator_sync_interval_seconds",
        "jumpcloud_operator_control_status",
        "jumpcloud_operator_syncs_total",
    ):
        assert series in named, f"{series} is used by no alert or panel"
