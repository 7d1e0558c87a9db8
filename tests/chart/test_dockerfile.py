"""The Dockerfile cannot be built here (no Docker engine), so these tests pin what matters: the
builder runs the very command CI runs (.ci/build-release.sh), and the runtime image is distroless,
non-root, and holds only the binary that the chart's Deployment expects."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


def ci_build_command() -> list[str]:
    lines = [line.strip() for line in (REPO / ".ci/build-release.sh").read_text().splitlines()]
    commands = [line for line in lines if line.startswith("cargo ")]
    assert len(commands) == 1, commands
    return shlex.split(commands[0])


def test_builder_runs_the_same_cargo_command_as_ci() -> None:
    builder = stages()[0]
    runs = [shlex.split(rest) for keyword, rest in builder if keyword == "RUN"]
    cargo_runs = [run for run in runs if run and run[0] == "cargo"]
    assert cargo_runs == [ci_build_command()]
    assert {"build", "--release", "--locked"} <= set(ci_build_command())


def test_ci_runs_the_release_build() -> None:
    run = (REPO / ".ci/run").read_text()
    assert "bash .ci/build-release.sh" in run


def test_builder_toolchain_meets_the_crate_minimum() -> None:
    builder_from = stages()[0][0][1]
    match = re.search(r"rust:(\d+)\.(\d+)", builder_from)
    assert match, builder_from
    minimum = re.search(r'rust-version\s*=\s*"(\d+)\.(\d+)"', (REPO / "Cargo.toml").read_text())
    assert minimum
    assert tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups()))


def test_runtime_stage_is_distroless_non_root_with_only_the_binary() -> None:
    runtime = stages()[-1]
    assert runtime[0] == ("FROM", "gcr.io/distroless/cc-debian12:nonroot")
    keywords = [keyword for keyword, _ in runtime]
    assert "RUN" not in keywords, "distroless has no shell"
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=builder /src/target/release/jumpcloud-operator /jumpcloud-operator"]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] == "65532:65532"
    entrypoint = [json.loads(rest) for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == [["/jumpcloud-operator"]]
    cmd = [json.loads(rest) for keyword, rest in runtime if keyword == "CMD"]
    assert cmd == [["run"]]


def test_chart_runs_as_the_image_user() -> None:
    values = (REPO / "charts/jumpcloud-operator/values.yaml").read_text()
    assert "runAsUser: 65532" in values and "runAsGroup: 65532" in values


def test_build_context_leaves_out_build_output_and_secrets_of_the_workspace() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", "target", ".venv", "evidence"} <= ignored
