FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BOT_DATA_DIR=/data DATABASE_URL=sqlite:////data/bot.db PORT=3000
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --home /data bot && mkdir -p /data && chown bot /data
# numeric, so that a host or Kubernetes (runAsNonRoot) can tell it is not root without reading /etc/passwd
USER 10001
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["serve"]
