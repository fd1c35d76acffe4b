# oic-monitor daemon image: slim Python, non-root, data in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OIC_MONITOR_CONFIG=/data/monitor.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY config ./config
RUN python -m pip install --no-compile . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data && cp config/monitor.toml /data/monitor.toml \
    && sed -i 's#^url = "sqlite:///../storage/monitor.db"#url = "sqlite:///monitor.db"#; s#^archive_dir = "../storage/archive"#archive_dir = "archive"#' /data/monitor.toml \
    && chown -R monitor /data

USER monitor
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]

# --http binds inside the container; publish the port only to the host's loopback.
CMD ["oic-monitor", "run", "--http", "0.0.0.0:8080"]
