"""Tests of the Helm chart with the real Helm engine (helm-python-sdk) and the Kubernetes 1.33
schemas (kubernetes-validate). No cluster and no helm binary are needed.

Run: .venv/bin/python -m pytest -q tests/chart
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "jumpcloud-operator"
RELEASE = "jco"
NAMESPACE = "jumpcloud-system"
KUBE_VERSION = "1.33"
GROUP = "jumpcloud-operator.io"

# Value sets every structural test runs against. Each one must pass the schema and render.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "watch-namespaces": {
        "watchNamespaces": ["team-a", "team-b"],
        "connectionSelector": "shard=a",
        "secretSelector": "jumpcloud-operator.io/credentials=true",
    },
    "s3-storage": {
        "evidence": {
            "storage": "s3",
            "s3": {
                "bucket": "acme-evidence",
                "prefix": "prod/",
                "region": "eu-west-1",
                "endpoint": "https://minio.storage.svc:9000",
                "forcePathStyle": True,
                "credentialsSecret": {"name": "evidence-s3"},
            },
        }
    },
    "service-monitor": {"serviceMonitor": {"enabled": True, "skipIfMissing": False, "labels": {"release": "kps"}}},
    "monitoring": {
        "prometheusRule": {"enabled": True, "skipIfMissing": False, "additionalLabels": {"team": "platform"}},
        "grafanaDashboard": {"enabled": True, "namespace": "monitoring"},
    },
    "network-policy": {
        "networkPolicy": {
            "enabled": True,
            "apiServer": {"cidrs": ["10.96.0.1/32", "172.18.0.2/32"]},
            "jumpcloud": {
                "regions": ["us", "eu"],
                "cidrs": {"us": ["34.0.0.0/8"], "eu": ["35.0.0.0/8", "34.0.0.0/8"], "in": ["36.0.0.0/8"]},
            },
            "metricsFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        }
    },
    "leader-election-off": {"leaderElection": {"enabled": False}},
    "policy-reports-off": {"policyReports": "off"},
    "policyreport-only": {"policyReports": "policyreport", "watchNamespaces": ["team-a"]},
    "openreports-only": {"policyReports": "openreports"},
    "replicas-2": {"replicaCount": 2, "evidence": {"pvc": {"accessModes": ["ReadWriteMany"]}}},
    "extras": {
        "extraArgs": ["--concurrency=8"],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}],
        "extraVolumes": [{"name": "s3-ca", "configMap": {"name": "s3-ca-bundle"}}],
        "extraVolumeMounts": [{"name": "s3-ca", "mountPath": "/etc/ssl/s3", "readOnly": True}],
        "replicaCount": 3,
        "podDisruptionBudget": {"minAvailable": 2, "maxUnavailable": None},
        "evidence": {"storage": "s3", "s3": {"bucket": "acme-evidence"}},
        "rbac": {"aggregateToView": False},
    },
    "signing-and-existing-claim": {
        "evidence": {"signing": {"enabled": True, "secretName": "evidence-signing"}, "pvc": {"existingClaim": "old-evidence"}},
        "image": {"digest": "sha256:" + "ab" * 32},
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
    },
}

# The API calls the operator makes (issue 7 / operator-conventions 2.10): nothing more, nothing less.
OPERATOR_RULES = {
    (GROUP, "jumpcloudconnections", "list"),
    (GROUP, "jumpcloudconnections", "watch"),
    (GROUP, "jumpcloudconnections/status", "patch"),
    ("", "secrets", "get"),
    ("", "secrets", "list"),
    ("", "secrets", "watch"),
    ("events.k8s.io", "events", "create"),
    ("events.k8s.io", "events", "patch"),
}
# Policy reports: read (to skip unchanged writes) and server-side applied; owner references delete them.
REPORT_RULES = {
    "policyreport": {("wgpolicyk8s.io", "policyreports", "get"), ("wgpolicyk8s.io", "policyreports", "patch")},
    "openreports": {("openreports.io", "reports", "get"), ("openreports.io", "reports", "patch")},
}


def operator_rules(values: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The operator's rules for these values: the report rules follow `policyReports`."""
    mode = values.get("policyReports", "auto")
    kinds = {"auto": ["policyreport", "openreports"], "both": ["policyreport", "openreports"], "off": []}.get(mode, [mode])
    rules = set(OPERATOR_RULES)
    for kind in kinds:
        rules |= REPORT_RULES[kind]
    return rules


# The evidence endpoint checks each caller's token and permission (cluster-scoped reviews).
EVIDENCE_RULES = {
    ("authentication.k8s.io", "tokenreviews", "create"),
    ("authorization.k8s.io", "subjectaccessreviews", "create"),
}
# kube-lease-manager reads (get), creates once, and patches (renew, take over, release).
LEASE_RULES = {("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "patch")}


@pytest.fixture(scope="session")
def chart() -> helm.Chart:
    return helm.Chart.load(str(CHART_DIR))


def render(chart: helm.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Renders the chart and returns every Kubernetes object (NOTES.txt excluded)."""
    manifests = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    return objects


def notes(chart: helm.Chart, values: dict[str, Any]) -> str:
    manifests = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(objects)["env"]}


def metrics_service(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(obj for obj in of_kind(objects, "Service") if obj["metadata"]["name"].endswith("-metrics"))


def flatten_rules(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    flat = set()
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    flat.add((group, resource, verb))
    return flat


def aggregated_roles(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRoles for people (`rbac.aggregateTo*`), aggregated into view / edit / admin."""
    return [
        role for role in of_kind(objects, "ClusterRole")
        if any(key.startswith("rbac.authorization.k8s.io/aggregate-to-") for key in role["metadata"]["labels"])
    ]


def operator_roles(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Roles and ClusterRoles bound to the operator's ServiceAccount: what the operator may do."""
    bound = {
        (binding["roleRef"]["kind"], binding["roleRef"]["name"], binding["metadata"].get("namespace"))
        for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding")
    }
    return [
        role for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole")
        if (role["kind"], role["metadata"]["name"], role["metadata"].get("namespace")) in bound
    ]


def missing_record(message: str) -> None:
    """A record the end-to-end tests write is missing: a skip when only the chart tests run, a
    failure under `.ci/run` (JUMPCLOUD_OPERATOR_REQUIRE_RECORDS=1), where `cargo test` ran first,
    so a renamed or dropped end-to-end test cannot turn these checks off unnoticed."""
    import os

    if os.environ.get("JUMPCLOUD_OPERATOR_REQUIRE_RECORDS") == "1":
        pytest.fail(message)
    pytest.skip(message)


# ---------------------------------------------------------------- lint and schema-valid renders


def test_lint_is_clean_in_strict_mode() -> None:
    report = helm.lint(str(CHART_DIR), strict=True, namespace=NAMESPACE, kube_version="v1.33.0")
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean_for_each_value_set(name: str) -> None:
    report = helm.lint(str(CHART_DIR), VALUE_SETS[name], strict=True, namespace=NAMESPACE, kube_version="v1.33.0")
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_object_is_valid_for_kubernetes_1_33(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])
    assert objects
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD-defined kind: no bundled schema; checked field by field below
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} is invalid for Kubernetes {KUBE_VERSION}: {error}")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_object_is_labelled_and_namespaced_deterministically(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])
    assert objects == render(chart, VALUE_SETS[name]), "rendering must be deterministic for GitOps"
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    watched = set(VALUE_SETS[name].get("watchNamespaces", []))
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "jumpcloud-operator"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in obj["metadata"]
        elif obj["kind"] in {"Role", "RoleBinding"} and obj["metadata"]["namespace"] != NAMESPACE:
            assert obj["metadata"]["namespace"] in watched
        elif obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-dashboard"):
            # The dashboard goes where Grafana's sidecar looks.
            wanted = VALUE_SETS[name].get("grafanaDashboard", {}).get("namespace") or NAMESPACE
            assert obj["metadata"]["namespace"] == wanted
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["kind"]


# ---------------------------------------------------------------- pod security and the Deployment


@pytest.mark.parametrize("name", VALUE_SETS)
def test_pod_security_is_restricted(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["runAsGroup"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod
    security = container(objects)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in security
    for volume in pod["volumes"]:
        assert "hostPath" not in volume


def test_deployment_runs_the_operator_with_the_documented_flags(chart: helm.Chart) -> None:
    objects = render(chart, {})
    main = container(objects)
    assert main["image"] == "ghcr.io/jumpcloud-operator/jumpcloud-operator:0.1.0"
    assert "command" not in main, "the image's ENTRYPOINT is the binary"
    assert main["args"] == [
        "run",
        "--metrics-port=8080",
        "--health-port=8081",
        "--evidence-port=8082",
        "--log-format=json",
        "--log-level=info",
        "--leader-election=true",
        "--policy-reports=auto",
        "--leader-election-namespace=$(POD_NAMESPACE)",
        "--leader-election-lease-duration=15s",
        "--leader-election-renew-margin=5s",
        "--leader-election-retry-period=2s",
    ]
    env = env_of(objects)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # A plain path is a local evidence store (the PersistentVolume).
    assert env["JUMPCLOUD_OPERATOR_EVIDENCE_STORE"] == "/var/lib/jumpcloud-operator/evidence"
    assert "JUMPCLOUD_OPERATOR_WATCH_NAMESPACES" not in env
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert ports == {"metrics": 8080, "health": 8081, "evidence": 8082}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert main["resources"]["requests"]["cpu"] and main["resources"]["limits"]["memory"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    mounts = {mount["mountPath"] for mount in main["volumeMounts"]}
    assert {"/tmp", "/var/lib/jumpcloud-operator/evidence"} <= mounts


def test_ports_and_log_settings_follow_values(chart: helm.Chart) -> None:
    objects = render(
        chart,
        {"metrics": {"port": 9090, "service": {"port": 9000}}, "health": {"port": 9091},
         "logging": {"format": "text", "level": "debug,kube=info"}},
    )
    args = container(objects)["args"]
    assert "--metrics-port=9090" in args and "--health-port=9091" in args
    assert "--log-format=text" in args and "--log-level=debug,kube=info" in args
    service = metrics_service(objects)
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9000, "targetPort": "metrics", "protocol": "TCP"}]


def test_image_digest_wins_over_tag(chart: helm.Chart) -> None:
    digest = "sha256:" + "0f" * 32
    objects = render(chart, {"image": {"tag": "9.9.9", "digest": digest}})
    assert container(objects)["image"] == f"ghcr.io/jumpcloud-operator/jumpcloud-operator@{digest}"
    objects = render(chart, {"image": {"tag": "9.9.9"}})
    assert container(objects)["image"] == "ghcr.io/jumpcloud-operator/jumpcloud-operator:9.9.9"


def test_two_replicas_keep_leader_election_and_roll(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["replicas-2"])
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}, "leader election and RWX make a rolling update safe"
    assert "--leader-election=true" in container(objects)["args"]
    budget = one(objects, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert of_kind(render(chart, {}), "PodDisruptionBudget") == [], "one replica: a budget would block drains"
    assert "2 replicas share" not in notes(chart, VALUE_SETS["replicas-2"])
    assert "2 replicas share a ReadWriteOnce claim" in notes(chart, {"replicaCount": 2})


def test_leader_election_off_recreates_and_has_no_lease_access(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["leader-election-off"])
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = container(objects)["args"]
    assert "--leader-election=false" in args
    assert not any(arg.startswith("--leader-election-namespace") for arg in args)
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        assert not any(group == "coordination.k8s.io" for group, _, _ in flatten_rules(role))


# ---------------------------------------------------------------- RBAC


@pytest.mark.parametrize("name", VALUE_SETS)
def test_rbac_is_exactly_what_the_operator_calls(chart: helm.Chart, name: str) -> None:
    values = VALUE_SETS[name]
    objects = render(chart, values)
    watched = values.get("watchNamespaces", [])
    leader_election = values.get("leaderElection", {}).get("enabled", True)
    service_account = one(objects, "ServiceAccount")["metadata"]["name"]

    evidence_roles = [role for role in of_kind(objects, "ClusterRole") if role["metadata"]["name"].endswith("-evidence")]
    people_roles = aggregated_roles(objects)
    cluster_roles = [role for role in of_kind(objects, "ClusterRole") if role not in evidence_roles + people_roles]
    roles = of_kind(objects, "Role")
    # The evidence endpoint's reviews are cluster-scoped: a ClusterRole also with watchNamespaces.
    assert len(evidence_roles) == 1
    assert flatten_rules(evidence_roles[0]) == EVIDENCE_RULES
    lease_roles = [role for role in roles if role["metadata"]["name"].endswith("-leader-election")]
    namespaced_roles = [role for role in roles if role not in lease_roles]

    if watched:
        assert cluster_roles == []
        assert [b["metadata"]["name"] for b in of_kind(objects, "ClusterRoleBinding")] == [f"{RELEASE}-jumpcloud-operator-evidence"]
        assert sorted(role["metadata"]["namespace"] for role in namespaced_roles) == sorted(watched)
        for role in namespaced_roles:
            assert flatten_rules(role) == operator_rules(values)
    else:
        assert namespaced_roles == []
        assert len(cluster_roles) == 1
        assert flatten_rules(cluster_roles[0]) == operator_rules(values)

    if leader_election:
        assert len(lease_roles) == 1
        assert lease_roles[0]["metadata"]["namespace"] == NAMESPACE
        assert flatten_rules(lease_roles[0]) == LEASE_RULES
    else:
        assert lease_roles == []

    # Every role is bound, to our ServiceAccount only, and every binding points at a rendered role.
    bindings = of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding")
    bound = set()
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": service_account, "namespace": NAMESPACE}]
        ref = binding["roleRef"]
        bound.add((ref["kind"], ref["name"], binding["metadata"].get("namespace")))
    declared = {
        (role["kind"], role["metadata"]["name"], role["metadata"].get("namespace"))
        for role in roles + cluster_roles + evidence_roles
    }
    assert bound == declared


@pytest.mark.parametrize("mode", ["auto", "policyreport", "openreports", "both", "off"])
def test_policy_reports_value_is_the_flag(chart: helm.Chart, mode: str) -> None:
    args = container(render(chart, {"policyReports": mode}))["args"]
    assert [arg for arg in args if arg.startswith("--policy-reports")] == [f"--policy-reports={mode}"]
    assert ("kubectl get polr -A" in notes(chart, {"policyReports": mode})) == (mode != "off")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_no_wildcards_no_delete_no_crd_access(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])
    people = aggregated_roles(objects)
    assert len(operator_roles(objects)) + len(people) == len(of_kind(objects, "Role") + of_kind(objects, "ClusterRole")), "every other role is bound to the operator"
    for role in operator_roles(objects):
        for group, resource, verb in flatten_rules(role):
            assert "*" not in (group, resource, verb)
            assert verb not in {"delete", "deletecollection", "escalate", "bind", "impersonate"}
            assert group != "apiextensions.k8s.io"
    # The roles for people reach connections only: no Secrets, no CRDs, no privilege verbs.
    for role in people:
        for group, resource, verb in flatten_rules(role):
            assert (group, resource.split("/")[0]) == (GROUP, "jumpcloudconnections"), role["metadata"]["name"]
            assert verb not in {"escalate", "bind", "impersonate", "*"}


# ---------------------------------------------------------------- storage, signing, service monitor, network policy


def test_pvc_storage_is_kept_on_uninstall(chart: helm.Chart) -> None:
    objects = render(chart, {})
    claim = one(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "evidence", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in volumes


def test_s3_storage_takes_credentials_from_a_secret(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["s3-storage"])
    assert of_kind(objects, "PersistentVolumeClaim") == []
    env = env_of(objects)
    assert env["JUMPCLOUD_OPERATOR_EVIDENCE_STORE"] == "s3://acme-evidence/prod"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL_S3"] == "https://minio.storage.svc:9000"
    # Names the object_store S3 client reads (runtime_e2e runs the operator with exactly these).
    assert env["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false", "forcePathStyle: true"
    assert "AWS_ALLOW_HTTP" not in env, "HTTPS endpoint"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "evidence-s3", "key": "AWS_ACCESS_KEY_ID"}}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "evidence-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    # No credential value is ever rendered into the manifests.
    assert all(not isinstance(value, str) or "secret" not in value.lower() for value in env.values())


def test_s3_plain_http_path_style_endpoint_is_allowed_explicitly(chart: helm.Chart) -> None:
    values = {
        "evidence": {
            "storage": "s3",
            "s3": {"bucket": "evidence", "endpoint": "http://minio.storage.svc:9000", "forcePathStyle": True},
        }
    }
    env = env_of(render(chart, values))
    assert env["AWS_ALLOW_HTTP"] == "true"
    assert env["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false"


def test_lease_timing_is_configurable_and_validated(chart: helm.Chart) -> None:
    values = {"leaderElection": {"enabled": True, "leaseDuration": "30s", "renewMargin": "10s", "retryPeriod": "500ms"}}
    args = container(render(chart, values))["args"]
    assert "--leader-election-lease-duration=30s" in args
    assert "--leader-election-renew-margin=10s" in args
    assert "--leader-election-retry-period=500ms" in args


def test_s3_without_a_credentials_secret_uses_the_default_chain(chart: helm.Chart) -> None:
    objects = render(chart, {"evidence": {"storage": "s3", "s3": {"bucket": "acme-evidence"}}})
    env = env_of(objects)
    assert env["JUMPCLOUD_OPERATOR_EVIDENCE_STORE"] == "s3://acme-evidence"
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_signing_key_is_mounted_read_only_from_its_secret(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["signing-and-existing-claim"])
    assert of_kind(objects, "PersistentVolumeClaim") == [], "an existing claim is used, not created"
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["signing-key"]["secret"]["secretName"] == "evidence-signing"
    assert volumes["evidence"]["persistentVolumeClaim"]["claimName"] == "old-evidence"
    mount = next(m for m in container(objects)["volumeMounts"] if m["name"] == "signing-key")
    assert mount["readOnly"] is True
    assert env_of(objects)["JUMPCLOUD_OPERATOR_SIGNING_KEY_FILE"] == mount["mountPath"] + "/signing-key.pem"


def test_service_monitor_is_rendered_only_when_asked_and_available(chart: helm.Chart) -> None:
    assert of_kind(render(chart, {}), "ServiceMonitor") == []
    # Offline rendering has no monitoring.coreos.com/v1: skipIfMissing keeps the install working.
    skipped = {"serviceMonitor": {"enabled": True}}
    assert of_kind(render(chart, skipped), "ServiceMonitor") == []
    assert "no ServiceMonitor was created" in notes(chart, skipped)

    objects = render(chart, VALUE_SETS["service-monitor"])
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    service = metrics_service(objects)
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        assert service["metadata"]["labels"][key] == value
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_metrics_service_selects_the_operator_pods(chart: helm.Chart) -> None:
    objects = render(chart, {})
    service = metrics_service(objects)
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_network_policy_allows_only_jumpcloud_apiserver_and_dns(chart: helm.Chart) -> None:
    assert of_kind(render(chart, {}), "NetworkPolicy") == []
    objects = render(chart, VALUE_SETS["network-policy"])
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"]["matchLabels"].items() <= one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    jumpcloud, apiserver, dns = policy["egress"]
    # us and eu are configured; eu repeats a us CIDR; in is not configured.
    assert [peer["ipBlock"]["cidr"] for peer in jumpcloud["to"]] == ["34.0.0.0/8", "35.0.0.0/8"]
    assert jumpcloud["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert [peer["ipBlock"]["cidr"] for peer in apiserver["to"]] == ["10.96.0.1/32", "172.18.0.2/32"]
    assert {port["port"] for port in apiserver["ports"]} == {443, 6443}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(port["port"], port["protocol"]) for port in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    metrics_rule, health_rule, evidence_rule = policy["ingress"]
    assert evidence_rule == {"ports": [{"port": "evidence", "protocol": "TCP"}]}, "any source: the API server proxies to it"
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics_rule["from"] == VALUE_SETS["network-policy"]["networkPolicy"]["metricsFrom"]
    assert health_rule["ports"] == [{"port": "health", "protocol": "TCP"}]


def test_network_policy_takes_extra_egress_for_s3(chart: helm.Chart) -> None:
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    values["evidence"] = {"storage": "s3", "s3": {"bucket": "acme-evidence"}}
    assert "no egress to your S3 endpoint" in notes(chart, values)
    extra = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 9000, "protocol": "TCP"}]}
    values["networkPolicy"]["extraEgress"] = [extra]
    policy = one(render(chart, values), "NetworkPolicy")["spec"]
    assert policy["egress"][-1] == extra
    assert "no egress to your S3 endpoint" not in notes(chart, values)


def test_network_policy_can_leave_dns_out(chart: helm.Chart) -> None:
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    values["networkPolicy"]["dns"] = {"enabled": False}
    policy = one(render(chart, values), "NetworkPolicy")["spec"]
    assert len(policy["egress"]) == 2


def test_watch_namespaces_reach_the_operator(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["watch-namespaces"])
    assert env_of(objects)["JUMPCLOUD_OPERATOR_WATCH_NAMESPACES"] == "team-a,team-b"
    assert "--connection-selector=shard=a" in container(objects)["args"]
    assert "--secret-selector=jumpcloud-operator.io/credentials=true" in container(objects)["args"]
    assert not any(arg.startswith("--secret-selector") for arg in container(render(chart, {}))["args"])
    assert "watching namespaces: team-a, team-b" in notes(chart, VALUE_SETS["watch-namespaces"])


def test_notes_give_the_next_steps(chart: helm.Chart) -> None:
    text = notes(chart, {})
    for expected in ["create secret generic", "kind: JumpCloudConnection", "kubectl get jcc", "kubectl apply --server-side -f crds/"]:
        assert expected in text


# ---------------------------------------------------------------- the evidence endpoint (issue 14)


def test_evidence_endpoint_has_its_service_port_and_flag(chart: helm.Chart) -> None:
    objects = render(chart, {"evidence": {"endpoint": {"port": 9443, "service": {"port": 443, "annotations": {"a": "b"}}}}})
    assert "--evidence-port=9443" in container(objects)["args"]
    assert {"name": "evidence", "containerPort": 9443, "protocol": "TCP"} in container(objects)["ports"]
    service = next(obj for obj in of_kind(objects, "Service") if obj["metadata"]["name"] == f"{RELEASE}-jumpcloud-operator")
    # Named after the release: `report --from-cluster` reaches <namespace>/<fullname>:evidence.
    assert service["spec"]["ports"] == [{"name": "evidence", "port": 443, "targetPort": "evidence", "protocol": "TCP"}]
    assert service["metadata"]["annotations"] == {"a": "b"}
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_default_release_name_matches_the_cli_default_operator_service(chart: helm.Chart) -> None:
    manifests = chart.render({}, name="jumpcloud-operator", namespace="jumpcloud-operator", is_install=True)
    services = [doc for path, text in manifests.items() if not path.endswith("NOTES.txt") for doc in yaml.safe_load_all(text) if doc and doc["kind"] == "Service"]
    assert "jumpcloud-operator" in [service["metadata"]["name"] for service in services]
    text = next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))
    assert "jumpcloud-operator report --from-cluster <namespace>/my-org --out report.html\n" in text, "no --operator-service needed"


def test_evidence_endpoint_can_be_turned_off(chart: helm.Chart) -> None:
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    values["evidence"] = {"endpoint": {"enabled": False}}
    objects = render(chart, values)
    assert "--evidence-endpoint=false" in container(objects)["args"]
    assert "evidence" not in {port["name"] for port in container(objects)["ports"]}
    assert [obj["metadata"]["name"] for obj in of_kind(objects, "Service")] == [f"{RELEASE}-jumpcloud-operator-metrics"]
    assert not any(role["metadata"]["name"].endswith("-evidence") for role in of_kind(objects, "ClusterRole"))
    assert len(one(objects, "NetworkPolicy")["spec"]["ingress"]) == 2
    assert "--from-cluster" not in notes(chart, values)


def test_network_policy_can_narrow_evidence_sources(chart: helm.Chart) -> None:
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    peers = [{"ipBlock": {"cidr": "10.0.0.0/24"}}]
    values["networkPolicy"]["evidenceFrom"] = peers
    evidence_rule = one(render(chart, values), "NetworkPolicy")["spec"]["ingress"][2]
    assert evidence_rule == {"ports": [{"port": "evidence", "protocol": "TCP"}], "from": peers}


def test_notes_give_the_evidence_commands(chart: helm.Chart) -> None:
    text = notes(chart, {})
    assert f"jumpcloud-operator report --from-cluster <namespace>/my-org --out report.html --operator-service {NAMESPACE}/{RELEASE}-jumpcloud-operator" in text
    assert f"kubectl -n {NAMESPACE} port-forward service/{RELEASE}-jumpcloud-operator 8082:evidence" in text
    assert 'curl -H "Authorization: Bearer $(kubectl create token' in text
    assert "/connections/<namespace>/my-org/report?format=html" in text


# ---------------------------------------------------------------- values.schema.json


BAD_VALUES = [
    ({"policyReports": "policyreports"}, "policyReports"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"imag": {"tag": "1"}}, "imag"),
    ({"replicaCount": -1}, "/replicaCount"),
    ({"leaderElection": {"enabled": True, "leaseDuration": "15 seconds"}}, "/leaderElection/leaseDuration"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    ({"watchNamespaces": "team-a"}, "/watchNamespaces"),
    ({"logging": {"format": "yaml"}}, "/logging/format"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"health": {"port": "8081"}}, "/health/port"),
    ({"evidence": {"endpoint": {"port": 0}}}, "/evidence/endpoint/port"),
    ({"evidence": {"endpoint": {"enabled": "yes"}}}, "/evidence/endpoint/enabled"),
    ({"evidence": {"endpoint": {"tls": True}}}, "tls"),
    ({"networkPolicy": {"evidenceFrom": "anywhere"}}, "/networkPolicy/evidenceFrom"),
    ({"serviceMonitor": {"interval": "thirty seconds"}}, "/serviceMonitor/interval"),
    ({"networkPolicy": {"enabled": True}}, "/networkPolicy/apiServer/cidrs"),
    ({"networkPolicy": {"jumpcloud": {"regions": ["ap"]}}}, "/networkPolicy/jumpcloud/regions/0"),
    ({"networkPolicy": {"apiServer": {"cidrs": ["10.0.0.1"]}}}, "/networkPolicy/apiServer/cidrs/0"),
    ({"evidence": {"storage": "nfs"}}, "/evidence/storage"),
    ({"evidence": {"storage": "s3"}}, "/evidence/s3/bucket"),
    ({"evidence": {"pvc": {"size": "five gigs"}}}, "/evidence/pvc/size"),
    ({"evidence": {"signing": {"enabled": True}}}, "/evidence/signing/secretName"),
    ({"evidence": {"s3": {"acessKey": "x"}}}, "acessKey"),
    ({"serviceAccount": {"create": False}}, "/serviceAccount/name"),
    ({"terminationGracePeriodSeconds": 1}, "/terminationGracePeriodSeconds"),
    ({"resources": {"limit": {"memory": "1Gi"}}}, "limit"),
]


@pytest.mark.parametrize("values,path", BAD_VALUES, ids=[path for _, path in BAD_VALUES])
def test_schema_rejects_bad_values_naming_the_path(chart: helm.Chart, values: dict[str, Any], path: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        chart.validate_schema(values)
    assert path in str(caught.value)
    # The same values are refused when rendering, so `helm install` fails before touching the cluster.
    with pytest.raises(helm.HelmError):
        chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_schema_accepts_every_value_set(chart: helm.Chart, name: str) -> None:
    chart.validate_schema(copy.deepcopy(VALUE_SETS[name]))


def test_schema_is_draft_07_and_closes_our_objects() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"

    # Kubernetes' own types (EnvVar) stay open: the API server checks them.
    kubernetes_objects = {
        "#/properties/extraEnv/items",
        "#/properties/extraVolumes/items",
        "#/properties/extraVolumeMounts/items",
        # Resource names are open: ephemeral-storage, hugepages-*, extended resources.
        "#/definitions/resourceList",
    }

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and where not in kubernetes_objects:
                assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}")

    walk(schema, "#")
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert set(defaults) <= set(schema["properties"])


# ---------------------------------------------------------------- CRDs and GitOps examples


def test_chart_crds_are_byte_identical_to_repo_crds() -> None:
    """The chart's crds/ is a copy of the generated repo crds/ (`jumpcloud-operator crd`):
    the same file names, byte for byte. Fix: `cp crds/*.yaml charts/jumpcloud-operator/crds/`."""
    repo_crds = REPO / "crds"
    chart_crds = CHART_DIR / "crds"

    def files(folder: Path) -> dict[str, bytes]:
        if not folder.is_dir():
            return {}
        return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}

    repo_files, chart_files = files(repo_crds), files(chart_crds)
    assert sorted(chart_files) == sorted(repo_files), (
        f"chart crds/ has {sorted(chart_files)}, repo crds/ has {sorted(repo_files)}: "
        "copy repo crds/ into charts/jumpcloud-operator/crds/"
    )
    differing = [name for name in repo_files if repo_files[name] != chart_files[name]]
    assert differing == [], f"chart crds/ differs from repo crds/ in {differing}: copy repo crds/ into the chart"


def test_chart_crds_are_valid_crds(chart: helm.Chart) -> None:
    crd_files = sorted((CHART_DIR / "crds").glob("*.yaml"))
    if not crd_files:
        pytest.skip("no CRDs in the chart yet (see test_chart_crds_are_byte_identical_to_repo_crds)")
    for path in crd_files:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                assert document["kind"] == "CustomResourceDefinition"
                assert document["spec"]["group"] == GROUP
                kubernetes_validate.validate(document, KUBE_VERSION, strict=True)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_flux_helm_release_upgrades_crds_and_uses_valid_values(chart: helm.Chart) -> None:
    documents = load_all(REPO / "examples/gitops/flux/operator/helmrelease.yaml")
    release = next(doc for doc in documents if doc["kind"] == "HelmRelease")
    assert release["spec"]["install"]["crds"] == "Create"
    assert release["spec"]["upgrade"]["crds"] == "CreateReplace"
    assert release["spec"]["chart"]["spec"]["chart"] == "jumpcloud-operator"
    chart.validate_schema(copy.deepcopy(release["spec"]["values"]))
    render(chart, release["spec"]["values"])
    kustomizations = load_all(REPO / "examples/gitops/flux/kustomizations.yaml")
    paths = {k["metadata"]["name"]: k["spec"]["path"] for k in kustomizations}
    for path in paths.values():
        assert (REPO / path).is_dir(), path
    connections = next(k for k in kustomizations if k["metadata"]["name"] == "jumpcloud-connections")
    assert connections["spec"]["dependsOn"] == [{"name": "jumpcloud-operator"}]


def test_argocd_application_installs_chart_then_connection(chart: helm.Chart) -> None:
    applications = load_all(REPO / "examples/gitops/argocd/application.yaml")
    operator, connections = applications
    assert operator["spec"]["source"]["chart"] == "jumpcloud-operator"
    chart.validate_schema(copy.deepcopy(operator["spec"]["source"]["helm"]["valuesObject"]))
    waves = [int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for app in applications]
    assert waves == sorted(waves) and waves[0] < waves[1]
    assert (REPO / connections["spec"]["source"]["path"]).is_dir()


def test_example_connection_is_valid_and_keeps_the_key_out_of_git() -> None:
    documents = load_all(REPO / "examples/gitops/connection/connection.yaml")
    assert not any(doc["kind"] == "Secret" for doc in documents)
    connection = next(doc for doc in documents if doc["kind"] == "JumpCloudConnection")
    assert connection["apiVersion"] == f"{GROUP}/v1alpha1"
    assert connection["spec"]["region"] in {"us", "eu", "in"}
    crd_files = sorted((REPO / "crds").glob("*.yaml")) if (REPO / "crds").is_dir() else []
    crds = [doc for path in crd_files for doc in load_all(path) if doc.get("spec", {}).get("names", {}).get("kind") == "JumpCloudConnection"]
    if not crds:
        pytest.skip("repo crds/ has no JumpCloudConnection CRD yet")
    import jsonschema

    version = next(v for v in crds[0]["spec"]["versions"] if v["name"] == "v1alpha1")
    jsonschema.validate(connection, version["schema"]["openAPIV3Schema"])


def test_chart_app_version_is_the_crate_version() -> None:
    chart_meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    crate = next(line for line in (REPO / "Cargo.toml").read_text().splitlines() if line.startswith("version = "))
    assert chart_meta["appVersion"] == crate.split('"')[1], "bump Chart.yaml appVersion with the crate version"
    assert chart_meta["kubeVersion"] == ">=1.33.0-0"


def recorded_api_calls_file() -> Path:
    """Where the end-to-end tests leave the operator's recorded API calls (issue 7): the Kubernetes
    API test server writes one JSON object per request made by the operator binary (not by kubectl
    or the test itself): {"verb": "get|list|watch|create|update|patch|delete", "group": "",
    "resource": "secrets", "subresource": null, "namespace": "team-a"}."""
    import os

    if "JUMPCLOUD_OPERATOR_API_CALLS" in os.environ:
        return Path(os.environ["JUMPCLOUD_OPERATOR_API_CALLS"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "kube-api-calls.jsonl"


def test_chart_rbac_equals_the_calls_the_operator_made_end_to_end(chart: helm.Chart) -> None:
    calls_file = recorded_api_calls_file()
    if not calls_file.is_file():
        missing_record(f"no recorded operator API calls at {calls_file} (written by tests/runtime_e2e.rs)")
    used = set()
    for line in calls_file.read_text().splitlines():
        if line.strip():
            call = json.loads(line)
            resource = call["resource"] + (f"/{call['subresource']}" if call.get("subresource") else "")
            used.add((call["group"], resource, call["verb"]))
    objects = render(chart, {})
    granted = set()
    # The roles bound to the operator; the aggregated roles are for people.
    for role in operator_roles(objects):
        granted |= flatten_rules(role)
    assert used - granted == set(), "the operator made calls the chart does not allow"
    assert granted - used == set(), "the chart grants verbs the operator never used"


# ---------------------------------------------------------------- issue 18: what a new user trips over


def render_error(chart: helm.Chart, values: dict[str, Any]) -> str:
    """The message `helm install` would stop with for these values (they pass the schema)."""
    chart.validate_schema(copy.deepcopy(values))
    with pytest.raises(helm.HelmError) as caught:
        chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)
    return str(caught.value)


def strategy(values: dict[str, Any], chart: helm.Chart) -> dict[str, Any]:
    return one(render(chart, values), "Deployment")["spec"]["strategy"]


def test_a_single_node_claim_recreates_and_shared_storage_rolls(chart: helm.Chart) -> None:
    # A rolling update would start the new pod while the old one holds a ReadWriteOnce volume:
    # on another node it waits on Multi-Attach until the rollout times out.
    recreate = {"type": "Recreate"}
    assert strategy({}, chart) == recreate, "default: a ReadWriteOnce claim"
    assert strategy({"evidence": {"pvc": {"accessModes": ["ReadWriteOncePod"]}}}, chart) == recreate
    assert strategy({"evidence": {"pvc": {"existingClaim": "old-evidence"}}}, chart) == recreate
    roll = {"type": "RollingUpdate"}
    assert strategy({"evidence": {"pvc": {"accessModes": ["ReadWriteMany"]}}}, chart) == roll
    assert strategy({"evidence": {"pvc": {"accessModes": ["ReadWriteOnce", "ReadWriteMany"]}}}, chart) == roll
    assert strategy({"evidence": {"storage": "s3", "s3": {"bucket": "acme-evidence"}}}, chart) == roll
    # Without leader election two pods must never overlap, whatever the storage.
    assert strategy({"leaderElection": {"enabled": False}, "evidence": {"storage": "s3", "s3": {"bucket": "acme-evidence"}}}, chart) == recreate


def test_grace_period_is_the_value_and_the_docs_say_a_longer_sync_is_abandoned_safely(chart: helm.Chart) -> None:
    pod = one(render(chart, {"terminationGracePeriodSeconds": 120}), "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 120
    # The chart does not claim a grace period longer than spec.timeout (15m by default) is needed:
    # a sync cut short publishes nothing (runtime_e2e: sigterm_then_kill_mid_sync_...).
    readme = " ".join((CHART_DIR / "README.md").read_text().split())
    assert "must exceed the longest" not in readme
    shutdown = readme.split("- **Shutdown and the grace period.**", 1)[1].split(" - **", 1)[0]
    for expected in ["`terminationGracePeriodSeconds` (60)", "A sync cut short publishes nothing", "`spec.timeout`",
                     "the next leader sees the sync still due and runs it again", "We chose to make abandoning safe"]:
        assert expected in shutdown, expected
    values_text = (CHART_DIR / "values.yaml").read_text()
    comment = " ".join(values_text.split("terminationGracePeriodSeconds:", 1)[0].rsplit("\n\n", 1)[1].split())
    assert "publishes nothing" in comment and "need not exceed `spec.timeout`" in comment


def test_notes_create_the_key_secret_from_a_file_not_the_command_line(chart: helm.Chart) -> None:
    text = notes(chart, {})
    assert "create secret generic jumpcloud-api-key --from-file=api-key=./key.txt" in text
    assert "--from-literal" not in text
    for example in ["examples/connection.yaml", "examples/gitops/README.md", "README.md"]:
        assert "--from-literal" not in (REPO / example).read_text(), example


def test_notes_recommend_watch_namespaces_when_cluster_wide(chart: helm.Chart) -> None:
    assert "may read every Secret in every namespace" in notes(chart, {})
    assert "may read every Secret" not in notes(chart, VALUE_SETS["watch-namespaces"])


def test_extra_args_env_volumes_and_mounts_are_appended(chart: helm.Chart) -> None:
    objects = render(chart, VALUE_SETS["extras"])
    main = container(objects)
    default = container(render(chart, {}))
    assert main["args"][-1] == "--concurrency=8"
    assert main["args"][: len(default["args"])] == [arg for arg in default["args"]], "the chart's own arguments come first"
    assert main["env"][-1] == {"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}
    assert main["volumeMounts"][-1] == {"name": "s3-ca", "mountPath": "/etc/ssl/s3", "readOnly": True}
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"][-1] == {"name": "s3-ca", "configMap": {"name": "s3-ca-bundle"}}


@pytest.mark.parametrize(
    "arg,value",
    [("--log-level=debug", "logging.level"), ("--leader-election=false", "leaderElection.enabled"),
     ("--selector=shard=b", "connectionSelector"), ("--watch-namespaces=a", "watchNamespaces")],
)
def test_extra_args_refuse_flags_the_chart_sets(chart: helm.Chart, arg: str, value: str) -> None:
    message = render_error(chart, {"extraArgs": [arg]})
    assert f"extraArgs has {arg.split('=')[0]}, which the chart sets from the value {value}" in message


@pytest.mark.parametrize(
    "name,value",
    [("RUST_LOG", "logging.level"), ("JUMPCLOUD_OPERATOR_EVIDENCE_STORE", "evidence.storage"),
     ("JUMPCLOUD_OPERATOR_WATCH_NAMESPACES", "watchNamespaces")],
)
def test_extra_env_refuses_variables_the_chart_sets(chart: helm.Chart, name: str, value: str) -> None:
    message = render_error(chart, {"extraEnv": [{"name": name, "value": "x"}]})
    assert f"extraEnv has {name}, which the chart sets from the value {value}" in message


def test_schema_refuses_malformed_extras(chart: helm.Chart) -> None:
    for values, path in [
        ({"extraArgs": ["concurrency=8"]}, "/extraArgs/0"),
        ({"extraArgs": "--concurrency=8"}, "/extraArgs"),
        ({"extraVolumes": [{"configMap": {"name": "x"}}]}, "/extraVolumes/0"),
        ({"extraVolumeMounts": [{"name": "x", "mountPath": "relative"}]}, "/extraVolumeMounts/0/mountPath"),
        ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
        ({"podDisruptionBudget": {"maxUnavalable": 1}}, "maxUnavalable"),
        ({"rbac": {"aggregateToView": "yes"}}, "/rbac/aggregateToView"),
    ]:
        with pytest.raises(helm.HelmValuesError) as caught:
            chart.validate_schema(values)
        assert path in str(caught.value), (values, str(caught.value))


def test_pod_disruption_budget_values(chart: helm.Chart) -> None:
    budget = one(render(chart, VALUE_SETS["extras"]), "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 2 and "maxUnavailable" not in budget
    budget = one(render(chart, {"replicaCount": 4, "evidence": {"pvc": {"accessModes": ["ReadWriteMany"]}}, "podDisruptionBudget": {"maxUnavailable": "50%"}}), "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == "50%" and "minAvailable" not in budget
    assert of_kind(render(chart, {"replicaCount": 2, "podDisruptionBudget": {"enabled": False}}), "PodDisruptionBudget") == []
    assert of_kind(render(chart, {}), "PodDisruptionBudget") == [], "one replica gets no budget"


@pytest.mark.parametrize(
    "replicas,budget,setting",
    [
        (1, {"minAvailable": 1, "maxUnavailable": None}, "minAvailable=1"),
        (2, {"minAvailable": 2, "maxUnavailable": None}, "minAvailable=2"),
        (3, {"minAvailable": "90%", "maxUnavailable": None}, "minAvailable=90%"),
        (2, {"maxUnavailable": 0}, "maxUnavailable=0"),
        (2, {"maxUnavailable": "0%"}, "maxUnavailable=0%"),
    ],
)
def test_a_budget_that_blocks_every_drain_is_refused(chart: helm.Chart, replicas: int, budget: dict[str, Any], setting: str) -> None:
    message = render_error(chart, {"replicaCount": replicas, "podDisruptionBudget": budget})
    assert f"podDisruptionBudget.{setting} with replicaCount={replicas} lets no operator pod be evicted" in message
    assert "every node drain would block" in message and "podDisruptionBudget.maxUnavailable=1" in message


def test_a_budget_with_both_or_neither_bound_is_refused(chart: helm.Chart) -> None:
    assert "sets both minAvailable (1) and maxUnavailable (1)" in render_error(chart, {"replicaCount": 2, "podDisruptionBudget": {"minAvailable": 1}})
    assert "neither minAvailable nor maxUnavailable" in render_error(chart, {"replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": None}})
    # 3 replicas, minAvailable 2 (or 50%, rounded up to 2) still lets one go.
    render(chart, {"replicaCount": 3, "podDisruptionBudget": {"minAvailable": "50%", "maxUnavailable": None}})


def test_aggregated_roles_let_namespace_viewers_and_editors_use_connections(chart: helm.Chart) -> None:
    # Viewers do not read evidence unless asked for: the view role is off by default.
    assert {role["metadata"]["name"] for role in aggregated_roles(render(chart, {}))} == {f"{RELEASE}-jumpcloud-operator-edit"}
    objects = render(chart, {"rbac": {"aggregateToView": True}})
    roles = {role["metadata"]["name"]: role for role in aggregated_roles(objects)}
    assert set(roles) == {f"{RELEASE}-jumpcloud-operator-view", f"{RELEASE}-jumpcloud-operator-edit"}
    view, edit = roles[f"{RELEASE}-jumpcloud-operator-view"], roles[f"{RELEASE}-jumpcloud-operator-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    reads = {(GROUP, "jumpcloudconnections", verb) for verb in ("get", "list", "watch")} | {(GROUP, "jumpcloudconnections/status", "get")}
    assert flatten_rules(view) == reads, "get is what the evidence endpoint checks"
    writes = {(GROUP, "jumpcloudconnections", verb) for verb in ("create", "update", "patch", "delete", "deletecollection")}
    assert flatten_rules(edit) == reads | writes, "never the status: only the operator writes it"
    # Bound to nobody by the chart: Kubernetes aggregates them into view / edit / admin.
    bound = {binding["roleRef"]["name"] for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding")}
    assert not bound & set(roles)
    for values, left in [
        ({"rbac": {"aggregateToView": False}}, {f"{RELEASE}-jumpcloud-operator-edit"}),
        ({"rbac": {"aggregateToView": True, "aggregateToEdit": False}}, {f"{RELEASE}-jumpcloud-operator-view"}),
        ({"rbac": {"aggregateToView": False, "aggregateToEdit": False}}, set()),
    ]:
        assert {role["metadata"]["name"] for role in aggregated_roles(render(chart, values))} == left


@pytest.mark.parametrize("name", VALUE_SETS)
def test_crds_are_never_templates_so_uninstall_keeps_them(chart: helm.Chart, name: str) -> None:
    # Helm installs crds/ once and never deletes it; a templated CRD would be deleted on uninstall,
    # and every JumpCloudConnection with it.
    assert of_kind(render(chart, VALUE_SETS[name]), "CustomResourceDefinition") == []
    assert list((CHART_DIR / "crds").glob("*.yaml"))
    readme = (CHART_DIR / "README.md").read_text()
    assert "crds.keep" in readme and "helm.sh/resource-policy: keep" in readme


def test_more_replicas_without_leader_election_say_why(chart: helm.Chart) -> None:
    message = render_error(chart, {"replicaCount": 2, "leaderElection": {"enabled": False}})
    assert "replicaCount is 2 but leaderElection.enabled is false: every replica would reconcile" in message
    assert "Set leaderElection.enabled=true" in message
    render(chart, {"replicaCount": 1, "leaderElection": {"enabled": False}})


@pytest.mark.parametrize(
    "lease,renew",
    [("5s", "5s"), ("15s", "20s"), ("1500ms", "1s"), ("15s", "500ms"), ("1m", "60s")],
)
def test_renew_margin_must_be_shorter_than_the_lease(chart: helm.Chart, lease: str, renew: str) -> None:
    message = render_error(chart, {"leaderElection": {"enabled": True, "leaseDuration": lease, "renewMargin": renew}})
    assert f"leaderElection.renewMargin ({renew}) must be shorter than leaderElection.leaseDuration ({lease})" in message


def test_lease_timings_in_other_units_are_parsed(chart: helm.Chart) -> None:
    for lease, renew in [("1m", "30s"), ("2m", "90s"), ("15000ms", "5s")]:
        args = container(render(chart, {"leaderElection": {"enabled": True, "leaseDuration": lease, "renewMargin": renew}}))["args"]
        assert f"--leader-election-lease-duration={lease}" in args


@pytest.mark.parametrize("memory", [512, "512", 536870912, "1.5"])
def test_memory_without_a_unit_is_refused_with_the_fix(chart: helm.Chart, memory: Any) -> None:
    message = render_error(chart, {"resources": {"limits": {"memory": memory}}})
    assert f"resources.limits.memory is {memory} without a unit, which Kubernetes reads as {memory} bytes" in message
    assert f"for example {memory}Mi" in message
    message = render_error(chart, {"resources": {"requests": {"memory": memory}}})
    assert "resources.requests.memory" in message


def test_memory_in_milli_units_is_refused(chart: helm.Chart) -> None:
    message = render_error(chart, {"resources": {"limits": {"memory": "512m"}}})
    assert "thousandths of a byte" in message and "512Mi" in message


def test_quantities_with_units_are_accepted(chart: helm.Chart) -> None:
    values = {"resources": {"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "1Gi"}, "limits": {"cpu": 2, "memory": "1G"}}}
    assert container(render(chart, values))["resources"] == values["resources"]
    render(chart, {"resources": {"requests": {"cpu": 0.5, "memory": "1.5Gi"}}})


@pytest.mark.parametrize(
    "values,path",
    [
        ({"resources": {"limits": {"memory": "lots"}}}, "/resources/limits/memory"),
        ({"resources": {"requests": {"cpu": "fast"}}}, "/resources/requests/cpu"),
        ({"resources": {"requests": {"cpu": "500Mi"}}}, "/resources/requests/cpu"),
        ({"resources": {"requests": {"cpu": -1}}}, "/resources/requests/cpu"),
        ({"resources": {"limits": {"ephemeral-storage": "big"}}}, "/resources/limits/ephemeral-storage"),
    ],
)
def test_schema_refuses_what_is_not_a_quantity(chart: helm.Chart, values: dict[str, Any], path: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        chart.validate_schema(values)
    assert path in str(caught.value)


GOOD_SELECTORS = ["shard=a", "shard==a,tier!=batch", "env in (prod, staging),!legacy", "example.com/shard=a", "tier notin (a)", "team", "shard="]
BAD_SELECTORS = ["shard:a", "=a", "a,,b", "shard in prod", "bad key=x", "shard=-x", "a/b/c=x", "shard=a;b", "Example.com/shard=a", "x" * 64 + "=a"]


@pytest.mark.parametrize("field", ["connectionSelector", "secretSelector"])
def test_label_selectors_are_checked(chart: helm.Chart, field: str) -> None:
    flag = {"connectionSelector": "--connection-selector", "secretSelector": "--secret-selector"}[field]
    for selector in GOOD_SELECTORS:
        assert f"{flag}={selector}" in container(render(chart, {field: selector}))["args"]
    for selector in BAD_SELECTORS:
        message = render_error(chart, {field: selector})
        assert f"{field} {json.dumps(selector)} is not a label selector" in message, message
        assert "key in (a,b)" in message
