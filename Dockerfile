# Multi-stage build of both binaries: skedcast-auth (the authorization
# server, the default entrypoint) and skedcast-api (the resource service;
# run it with `--entrypoint skedcast-api`, as docker-compose.yml does).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin skedcast-auth --bin skedcast-api

FROM debian:bookworm-slim
# josekit links the system OpenSSL; curl serves the healthchecks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app skedcast \
 && mkdir -p /app/data && chown skedcast /app/data
COPY --from=build /src/target/release/skedcast-auth /usr/local/bin/skedcast-auth
COPY --from=build /src/target/release/skedcast-api /usr/local/bin/skedcast-api
WORKDIR /app
USER skedcast
ENV SKEDCAST__SERVER__BIND=0.0.0.0:8080 \
    SKEDCAST_API__SERVER__BIND=0.0.0.0:8081
EXPOSE 8080 8081
# The auth server's check; skedcast-api's container overrides it (port 8081).
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["skedcast-auth"]
CMD ["serve"]
