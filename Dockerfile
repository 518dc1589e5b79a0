# folkmoot: a slim, non-root image. Data (the SQLite database, encryption stores,
# sync state) lives in the /data volume; configuration comes from FOLKMOOT_CONFIG and
# FOLKMOOT_* environment variables, secrets from the environment or mounted files.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY governance ./governance
COPY migrations ./migrations
RUN python -m venv /opt/folkmoot \
 && /opt/folkmoot/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin folkmoot \
 && mkdir -p /data && chown folkmoot:folkmoot /data
COPY --from=build /opt/folkmoot /opt/folkmoot
ENV PATH="/opt/folkmoot/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    FOLKMOOT_DATA_DIR=/data
USER folkmoot
WORKDIR /data
VOLUME ["/data"]
CMD ["folkmoot", "run"]
