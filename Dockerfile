# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, ship only the binary on distroless (glibc, CA
# certificates, no shell, no package manager). CI cannot run Docker; it runs the builder's exact
# command through .ci/build-release.sh, and tests/chart/test_dockerfile.py keeps the two equal.

FROM docker.io/library/rust:1.95-bookworm AS builder
WORKDIR /src
# The whole workspace (members, benches, examples) minus what .dockerignore leaves out.
COPY . .
RUN cargo build --release --locked --bin jumpcloud-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/release/jumpcloud-operator /jumpcloud-operator
USER 65532:65532
ENTRYPOINT ["/jumpcloud-operator"]
CMD ["run"]
