# python:3.11-slim as published on 2026-08-05 (Python 3.11.15, Debian trixie): the multi-platform index digest recorded
# by the official images' metadata (docker-library/repo-info, repos/python/remote/3.11-slim.md). Move it on with
# `docker buildx imagetools inspect python:3.11-slim`; a tag alone would change under the same Dockerfile.
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_DATA_DIR=/data DATABASE_URL=sqlite:////data/bot.db PORT=3000
WORKDIR /app

# The dependencies first, from pyproject.toml alone: a change to the code reuses this layer instead of reinstalling.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --home /data bot && mkdir -p /data && chown bot /data
# numeric, so that a host or Kubernetes (runAsNonRoot) can tell it is not root without reading /etc/passwd
USER 10001
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["serve"]
