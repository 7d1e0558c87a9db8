"""Validates the OSCAL documents of `jumpcloud-operator report --format oscal` / `oscal-plan`.

Checks the documents against the OSCAL 1.1.2 models of compliance-trestle, then what the
models cannot: every reference inside the results resolves (import-ap, related observations,
relevant evidence), UUIDs are unique, the embedded plan is the plan file, every control has a
finding and an observation, and, with --store, every digest matches the evidence store.

Run: .venv/bin/python tests/oscal/validate.py RESULTS.json [--plan PLAN.json] [--report
REPORT.json] [--store DIR]. Exits 0 when valid; else prints each problem on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pydantic
import zstandard
from trestle.oscal.assessment_plan import AssessmentPlan
from trestle.oscal.assessment_results import AssessmentResults

# How a control's result maps onto OSCAL's two objective states (README, OSCAL section).
STATES = {
    "pass": "satisfied",
    "fail": "not-satisfied",
    "not-applicable": "not-satisfied",
    "error": "not-satisfied",
}
NS = "https://jumpcloud-operator.io/ns/oscal"


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.add(message)


def load_model(model: Any, document: dict, key: str, name: str, problems: Problems) -> None:
    if key not in document:
        problems.add(f"{name}: no top-level `{key}`")
        return
    try:
        model.model_validate(document[key])
    except pydantic.ValidationError as error:
        problems.add(f"{name}: not a valid OSCAL {key}: {error}")


def uuids_of(node: Any, path: str, found: dict[str, str], problems: Problems, name: str) -> None:
    """Collects every `uuid` of a document (not the references to them) and flags repeats."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid" and isinstance(value, str):
                if value in found:
                    problems.add(f"{name}: uuid {value} at {path} repeats {found[value]}")
                found[value] = path
            else:
                uuids_of(value, f"{path}/{key}", found, problems, name)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            uuids_of(value, f"{path}[{i}]", found, problems, name)


def prop(node: dict, name: str) -> list[str]:
    return [p["value"] for p in node.get("props", []) if p.get("name") == name and p.get("ns") == NS]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def blob_content(path: Path) -> bytes | None:
    """A blob's content: stores of format v2 keep it zstd-compressed at `<digest>.zst` (the
    document names the content's path and digest), those of v1 plain at `<digest>`."""
    compressed = path.with_name(path.name + ".zst")
    if compressed.is_file():
        return zstandard.ZstdDecompressor().decompressobj().decompress(compressed.read_bytes())
    if path.is_file():
        return path.read_bytes()
    return None


def check_results(ar: dict, problems: Problems) -> dict[str, dict]:
    """Reference checks inside the results; returns the back-matter resources by uuid."""
    resources = {r["uuid"]: r for r in ar.get("back-matter", {}).get("resources", [])}
    href = ar.get("import-ap", {}).get("href", "")
    problems.check(
        href.startswith("#") and href[1:] in resources,
        f"results: import-ap href {href!r} names no back-matter resource",
    )
    for result in ar.get("results", []):
        observations = {o["uuid"]: o for o in result.get("observations", [])}
        for o in observations.values():
            problems.check("TEST" in o.get("methods", []), f"observation {o['uuid']}: method TEST missing")
            for e in o.get("relevant-evidence", []):
                if "href" in e:
                    ref = e["href"]
                    problems.check(
                        ref.startswith("#") and ref[1:] in resources,
                        f"observation {o['uuid']}: relevant-evidence href {ref!r} names no back-matter resource",
                    )
        reviewed = [
            c["control-id"]
            for s in result["reviewed-controls"]["control-selections"]
            for c in s.get("include-controls", [])
        ]
        problems.check(len(reviewed) == len(set(reviewed)), "results: a reviewed control is listed twice")
        targets = [f["target"]["target-id"] for f in result.get("findings", [])]
        problems.check(
            sorted(targets) == sorted(reviewed),
            f"results: findings {sorted(targets)} are not one per reviewed control {sorted(reviewed)}",
        )
        for f in result.get("findings", []):
            related = f.get("related-observations", [])
            problems.check(bool(related), f"finding {f['uuid']}: no related observation")
            for r in related:
                problems.check(
                    r["observation-uuid"] in observations,
                    f"finding {f['uuid']}: related observation {r['observation-uuid']} does not exist",
                )
            reason = f["target"]["status"].get("reason")
            state = f["target"]["status"]["state"]
            problems.check(
                STATES.get(reason) == state,
                f"finding {f['uuid']}: state {state!r} does not match reason {reason!r}",
            )
    return resources


def check_plan(ar: dict, resources: dict[str, dict], plan_path: Path | None, problems: Problems) -> None:
    """The imported plan: embedded, hashed, equal to the plan file, valid, same controls."""
    href = ar.get("import-ap", {}).get("href", "")
    resource = resources.get(href[1:])
    if resource is None:
        return
    embedded = base64.b64decode(resource.get("base64", {}).get("value", ""))
    hashes = [h["value"] for link in resource.get("rlinks", []) for h in link.get("hashes", [])]
    problems.check(
        hashes == [hashlib.sha256(embedded).hexdigest()],
        f"results: the plan resource's hashes {hashes} are not the embedded plan's SHA-256",
    )
    if plan_path is not None:
        problems.check(
            plan_path.read_bytes() == embedded,
            f"results: the embedded plan differs from {plan_path}",
        )
    try:
        plan = json.loads(embedded)
    except ValueError as error:
        problems.add(f"results: the embedded plan is not JSON: {error}")
        return
    load_model(AssessmentPlan, plan, "assessment-plan", "embedded plan", problems)
    ap = plan.get("assessment-plan", {})
    plan_resources = {r["uuid"] for r in ap.get("back-matter", {}).get("resources", [])}
    ssp = ap.get("import-ssp", {}).get("href", "")
    problems.check(
        not ssp.startswith("#") or ssp[1:] in plan_resources,
        f"plan: import-ssp href {ssp!r} names no back-matter resource",
    )
    planned = sorted(
        c["control-id"] for s in ap["reviewed-controls"]["control-selections"] for c in s.get("include-controls", [])
    )
    for result in ar.get("results", []):
        reviewed = sorted(
            c["control-id"]
            for s in result["reviewed-controls"]["control-selections"]
            for c in s.get("include-controls", [])
        )
        problems.check(planned == reviewed, "results: reviewed controls differ from the plan's")


def check_report(ar: dict, report: dict, problems: Problems) -> None:
    """Every control of the JSON report has a finding with the mapped state and its references."""
    findings = {f["target"]["target-id"]: f for r in ar.get("results", []) for f in r.get("findings", [])}
    for result in report["results"]:
        finding = findings.get(result["id"].lower())
        if finding is None:
            problems.add(f"results: control {result['id']} has no finding")
            continue
        status = finding["target"]["status"]
        problems.check(
            status["state"] == STATES[result["status"]] and status.get("reason") == result["status"],
            f"finding of {result['id']}: {status} for result {result['status']}",
        )
        problems.check(
            prop(finding, "soc2-tsc") == result["references"]["soc2"]
            and prop(finding, "iso-iec-27001-2022-annex-a") == result["references"]["iso27001"],
            f"finding of {result['id']}: references differ from the report's",
        )


def check_store(ar: dict, resources: dict[str, dict], store: Path, problems: Problems) -> None:
    """Every digest named is the store's: the manifest, its index's blobs, and nothing else."""
    manifest_digest = prop(ar["metadata"], "manifest-sha256")
    manifests = [
        r
        for r in resources.values()
        if [h["value"] for link in r.get("rlinks", []) for h in link.get("hashes", [])] == manifest_digest
    ]
    if len(manifests) != 1 or not manifest_digest:
        problems.add("results: expected one manifest resource and a manifest-sha256 prop")
        return
    link = manifests[0]["rlinks"][0]
    path = store / link["href"]
    if not path.is_file():
        problems.add(f"results: manifest href {link['href']} is not in the store {store}")
        return
    problems.check(
        sha256_file(path) == link["hashes"][0]["value"] == manifest_digest[0],
        f"results: manifest {path} does not hash to {link['hashes'][0]['value']}",
    )
    manifest = json.loads(path.read_bytes())
    base = Path(link["href"]).parent.parent
    index_bytes = blob_content(store / base / "blobs" / "sha256" / manifest["index"]["sha256"])
    if index_bytes is None:
        problems.add(f"results: the manifest's index blob is not in the store {store}")
        return
    index = json.loads(index_bytes)
    expected = {blob["sha256"] for kind in index["kinds"] for blob in kind["blobs"]}
    named = {}
    for r in resources.values():
        if prop(r, "evidence-kind"):
            link = r["rlinks"][0]
            named[link["hashes"][0]["value"]] = link["href"]
    problems.check(
        set(named) == expected,
        f"results: evidence blobs {sorted(set(named) ^ expected)} differ between the document and the manifest's index",
    )
    for digest, href in named.items():
        content = blob_content(store / href)
        problems.check(
            content is not None and hashlib.sha256(content).hexdigest() == digest,
            f"results: blob {href} is missing or does not hash to {digest}",
        )
    for result in ar.get("results", []):
        for o in result.get("observations", []):
            for e in o.get("relevant-evidence", []):
                target = resources.get(e.get("href", "#")[1:])
                if target is None:
                    continue
                digests = {h["value"] for link in target.get("rlinks", []) for h in link.get("hashes", [])}
                problems.check(
                    digests <= expected | set(manifest_digest),
                    f"observation {o['uuid']}: relevant evidence {sorted(digests)} is not the manifest or a blob of its index",
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--report", type=Path, help="the JSON report of the same snapshot")
    parser.add_argument("--store", type=Path, help="the local evidence store the snapshot is in")
    args = parser.parse_args()
    problems = Problems()
    document = json.loads(args.results.read_bytes())
    load_model(AssessmentResults, document, "assessment-results", str(args.results), problems)
    found: dict[str, str] = {}
    uuids_of(document, "", found, problems, str(args.results))
    if args.plan is not None:
        plan = json.loads(args.plan.read_bytes())
        load_model(AssessmentPlan, plan, "assessment-plan", str(args.plan), problems)
        uuids_of(plan, "", {}, problems, str(args.plan))
    ar = document.get("assessment-results", {})
    try:
        resources = check_results(ar, problems)
        check_plan(ar, resources, args.plan, problems)
        if args.report is not None:
            check_report(ar, json.loads(args.report.read_bytes()), problems)
        if args.store is not None:
            check_store(ar, resources, args.store, problems)
    except (KeyError, TypeError, IndexError) as error:
        problems.add(f"results: a required member is missing or of the wrong type: {error!r}")
    for problem in problems.items:
        print(f"invalid: {problem}", file=sys.stderr)
    if problems.items:
        return 1
    print(f"valid: {args.results} ({len(found)} uuids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
