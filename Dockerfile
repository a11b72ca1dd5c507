# syntax=docker/dockerfile:1
#
# orgd in a container:
#   docker build -t orgd .
#   docker run -d --name orgd -p 8080:8080 -v orgd-data:/var/lib/orgd --stop-timeout 30 orgd
# The SQLite database is in the volume at /var/lib/orgd; set ORGD_DATABASE_URL for PostgreSQL.

# Rust 1.94 or newer (sqlx 0.9); `1` is the newest stable. Pin it with --build-arg RUST_VERSION=1.95.
ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Only what the build reads (.dockerignore keeps the rest out of the context). benches/ is there
# because Cargo.toml declares a bench target, which cargo checks even when it does not build it.
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY migrations migrations
COPY src src
# The registry and target/ are cache mounts, kept between builds: a rebuild after a source
# change compiles orgd only, not its dependencies. The binary is copied out of the mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/orgd /usr/local/bin/orgd

FROM debian:bookworm-slim
# ca-certificates: TLS to PostgreSQL and the mail server. curl: the health check below
# (orgd has no health subcommand).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid and gid, so that files in a bind-mounted data directory have a known owner
# (chown 10001:10001 the host directory).
RUN groupadd --system --gid 10001 orgd \
    && useradd --system --uid 10001 --gid orgd --home-dir /var/lib/orgd --no-create-home \
        --shell /usr/sbin/nologin orgd \
    && install -d -m 0700 -o orgd -g orgd /var/lib/orgd
COPY --from=build /usr/local/bin/orgd /usr/local/bin/orgd

ENV ORGD_DATA_DIR=/var/lib/orgd \
    ORGD_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/orgd
# A new named volume starts as a copy of this directory: empty, owned by orgd, mode 0700.
VOLUME /var/lib/orgd
EXPOSE 8080

# Liveness: the port is taken from ORGD_LISTEN, so the check follows a changed listen address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${ORGD_LISTEN##*:}/healthz\" || exit 1"]

# orgd finishes in-flight requests for shutdown_grace_secs (20 s) after SIGTERM; Docker's
# default stop timeout is 10 s, hence --stop-timeout 30 above.
STOPSIGNAL SIGTERM
ENTRYPOINT ["orgd"]
CMD ["serve"]
