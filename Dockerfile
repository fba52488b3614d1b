# syntax=docker/dockerfile:1
#
# synedge container image: a release build on the official Rust image, run from
# distroless (glibc, libgcc, CA certificates, tzdata; no shell, no package manager).
#
#   docker build -t synedge:0.1.0 .
#   docker run --rm -p 8080:8080 synedge:0.1.0 serve --demo
#
# The admin listener stays on the container's loopback unless the operator opens it,
# which needs a token (no token is baked in here):
#   docker run -e SYNEDGE_ADMIN__LISTEN=0.0.0.0:9901 -e SYNEDGE_ADMIN__TOKEN="$(openssl rand -hex 24)" \
#     -p 8080:8080 -p 9901:9901 synedge:0.1.0
# The default store is SQLite at /app/data/synedge.db (origin.url = sqlite://data/synedge.db,
# relative to WORKDIR /app), on the volume /app/data; a fleet sets SYNEDGE_ORIGIN__URL
# to a postgres:// URL instead (see deploy/kubernetes).

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a stub crate with the real manifest and
# lockfile, so that editing src/ rebuilds synedge alone. benches/ is not in the build
# context (.dockerignore), but Cargo.toml names a bench target, so it gets a stub too.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/hit_path.rs \
 && cargo build --release --locked --bin synedge \
 && rm -rf src
COPY src ./src
# COPY keeps the files' own modification times, which may be older than the stub's
# build: touch them so Cargo rebuilds the crate itself.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin synedge \
 && mkdir -p /out/data \
 && cp target/release/synedge /out/synedge

FROM gcr.io/distroless/cc-debian12:nonroot
# config/default.toml and the SQLite default (sqlite://data/synedge.db) are both read
# relative to the working directory.
WORKDIR /app
COPY --from=build /out/synedge /usr/local/bin/synedge
COPY config/default.toml /app/config/default.toml
# The data directory must be writable by the non-root user (distroless "nonroot" is
# 65532); a named volume mounted here starts with this ownership.
COPY --from=build --chown=65532:65532 /out/data /app/data
VOLUME ["/app/data"]
USER 65532:65532
# 8080: server.listen (public). 9901: admin.listen (metrics, signals, purge) once it is
# opened with SYNEDGE_ADMIN__LISTEN=0.0.0.0:9901 and SYNEDGE_ADMIN__TOKEN.
EXPOSE 8080 9901
# `synedge healthcheck` asks /readyz on server.listen (0.0.0.0 read as 127.0.0.1) and
# exits 0 or 1: the image has no curl. (`synedge scaler` has no public listener: run it
# with --no-healthcheck. Kubernetes ignores HEALTHCHECK and uses the manifests' probes.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/synedge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/synedge"]
CMD ["serve"]
