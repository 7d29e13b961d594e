# Multi-stage build of skedcast-auth.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin skedcast-auth

FROM debian:bookworm-slim
# josekit links the system OpenSSL; curl serves the healthcheck.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app skedcast \
 && mkdir -p /app/data && chown skedcast /app/data
COPY --from=build /src/target/release/skedcast-auth /usr/local/bin/skedcast-auth
WORKDIR /app
USER skedcast
ENV SKEDCAST__SERVER__BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["skedcast-auth"]
CMD ["serve"]
