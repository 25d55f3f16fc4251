# Kassa's hub in a container: `kassa serve` by default, `kassa worker` or any other kassa
# command as the container's command (see deploy/docker-compose.yml and docs/deploy.md).
#
#   docker build -t kassa .
#   docker run -p 127.0.0.1:8000:8000 -v kassa-data:/var/lib/kassa \
#     -e KASSA_PUBLIC_URL=https://pay.example.com kassa
#
# Installed the way the README installs it: pip install '.[server]' into a virtualenv.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/kassa \
 && /opt/kassa/bin/pip install --no-cache-dir '.[server]'

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/kassa --create-home kassa
COPY --from=build /opt/kassa /opt/kassa
# The SQLite database (without KASSA_DATABASE_URL) and the secret key file (without
# KASSA_SECRET_KEY) live in the data directory: keep it on a volume.
ENV PATH=/opt/kassa/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KASSA_DATA_DIR=/var/lib/kassa \
    KASSA_HOST=0.0.0.0 \
    KASSA_PORT=8000
USER kassa
WORKDIR /var/lib/kassa
VOLUME /var/lib/kassa
EXPOSE 8000
# Liveness: the process answers. (Readiness, /readyz, also needs the database migrated.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KASSA_PORT', '8000'), timeout=4)"]
# SIGTERM stops uvicorn gracefully; `kassa worker` finishes the job in hand.
STOPSIGNAL SIGTERM
CMD ["kassa", "serve"]
