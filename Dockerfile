# folkmoot: a slim, non-root image. Data (the SQLite database, encryption stores,
# sync state) lives in the /data volume; configuration comes from FOLKMOOT_CONFIG and
# FOLKMOOT_* environment variables, secrets from the environment or mounted files
# (FOLKMOOT_DISCORD_TOKEN_FILE, ...). docs/deploy/README.md explains each setting below.
#
# .ci/image-check rebuilds the build stage's COPY and pip steps outside Docker and
# runs the result (migrate, doctor, run and this HEALTHCHECK): keep the COPY lines
# one source list and a destination each, and the install one `pip install`.

# bookworm: its postgresql-client is 15, the PostgreSQL of docs/deploy/compose.yaml.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY governance ./governance
COPY migrations ./migrations
RUN python -m venv /opt/folkmoot \
 && /opt/folkmoot/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim-bookworm
# pg_dump and pg_restore: `folkmoot backup` and `restore` on PostgreSQL run them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin folkmoot \
 && mkdir -p /data && chown folkmoot:folkmoot /data
COPY --from=build /opt/folkmoot /opt/folkmoot
# /healthz and /metrics are served on every interface of the container: the
# HEALTHCHECK asks loopback, and a monitor on the same container network can scrape
# it. Nothing is reachable from outside the host unless the port is published.
ENV PATH="/opt/folkmoot/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    FOLKMOOT_DATA_DIR=/data \
    FOLKMOOT_HTTP_HOST=0.0.0.0 \
    FOLKMOOT_HTTP_PORT=9464
USER folkmoot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
# `folkmoot healthcheck` asks /healthz where `folkmoot run` serves it (the same
# settings, the config file's [http] included; every interface is asked on loopback).
# A 503 (the database or a platform is down), a refused connection or the endpoint
# switched off all exit 1.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["folkmoot", "healthcheck"]
# Migrate first, so a failed migration stops the container with its error before any
# platform is connected; then folkmoot replaces the shell and gets SIGTERM itself
# (give it 30 s to stop: it sends what is pending for up to 20 s).
CMD ["sh", "-c", "folkmoot migrate && exec folkmoot run"]
