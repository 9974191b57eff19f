# syntax=docker/dockerfile:1
#
# notify-gateway container image.
#
#   docker build -t ghcr.io/notify-gateway/notify-gateway:0.1.0 .
#
# One image, one binary, several roles (pick with the arguments):
#   serve --config /etc/notify-gateway/config.toml   the gateway (the default command)
#   migrate --config /etc/notify-gateway/config.toml apply database migrations and exit
#   simulate --listen 0.0.0.0:9090                   the upstream simulator (WeLink, WeCom, Juzi...)
#
# Configuration: mount a TOML file (see config/production.example.toml) and pass --config;
# override any key with NOTIFY__SECTION__KEY; keep secrets in env vars referenced as "env:VAR".

############################ build stage ############################
FROM rust:1.95-slim-bookworm AS build

WORKDIR /src

# The whole workspace: Cargo.toml, Cargo.lock, crates/*, migrations/ (embedded into the binary by
# sqlx::migrate! at compile time) and config/. .dockerignore keeps target/, .git/ and data out.
COPY . .

# Exactly the release build command from README.md (a CI test checks that they agree).
# target/ lives in a cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin notify-gateway \
 && install -D -m 0755 target/release/notify-gateway /out/notify-gateway \
 && mkdir -p /out/data

########################### runtime stage ###########################
# glibc + libgcc + CA certificates, no shell, no package manager; runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

LABEL org.opencontainers.image.title="notify-gateway" \
      org.opencontainers.image.description="Notification gateway for Huawei WeLink and WeCom" \
      org.opencontainers.image.source="https://github.com/notify-gateway/notify-gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/notify-gateway /usr/local/bin/notify-gateway
# Working directory owned by the non-root user: the sandbox first run (no --config) keeps its
# SQLite database under ./data/ here. With Postgres nothing is written to the filesystem, so the
# root filesystem can be mounted read-only.
COPY --from=build --chown=65532:65532 /out/data /var/lib/notify-gateway/data
WORKDIR /var/lib/notify-gateway

# Inside a container the API must listen on all interfaces. This variable wins over
# server.listen in the config file; change the port here (and in the probes), not in the file.
ENV NOTIFY__SERVER__LISTEN=0.0.0.0:8080

USER 65532:65532
EXPOSE 8080

# distroless has no shell or curl: the binary probes itself (GET http://127.0.0.1:8080/healthz,
# exit 0/1). Kubernetes ignores this and uses the probes in deploy/kubernetes/deployment.yaml;
# the simulator's compose service overrides it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/notify-gateway", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/notify-gateway"]
# The default command needs a mounted configuration: without one it stops with
# "--config /etc/notify-gateway/config.toml: no such file" rather than fall back to the
# sandbox, whose demo caller is an admin key (the gateway also refuses to make that key on a
# non-loopback address such as this image's 0.0.0.0:8080, and never prints it there).
CMD ["serve", "--config", "/etc/notify-gateway/config.toml"]
