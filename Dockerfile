# Container image of the SMS marketing sync service (console script `sms-sync`).
#   docker build -t sms-marketing-sync .
#   docker run --env-file .env -p 8080:8080 -v sms-sync-data:/data sms-marketing-sync
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Container defaults; every one can be overridden at run time (see .env.example).
    SMS_SYNC_LISTEN_HOST=0.0.0.0 \
    SMS_SYNC_LISTEN_PORT=8080 \
    SMS_SYNC_STORE_URL=sqlite:////data/sync.db

# Unprivileged runtime user; /data holds the service's store (mount a volume there).
RUN groupadd --system --gid 10001 smssync \
    && useradd --system --uid 10001 --gid smssync --home-dir /app --create-home \
       --shell /usr/sbin/nologin smssync \
    && install -d -o smssync -g smssync -m 0750 /data

# Install the project from pyproject.toml; only what the build needs is copied.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY sync_service/ ./sync_service/
# The postgresql extra: the driver of a PostgreSQL store (SMS_SYNC_STORE_URL=postgresql+psycopg2://...).
RUN pip install ".[postgresql]" \
    && cd / && rm -rf /build

WORKDIR /app
USER smssync:smssync
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["sms-sync"]
CMD ["run"]
