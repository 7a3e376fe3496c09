# Hải Đăng as a container: `haidang serve` (and the one-shot setup commands of docker-compose.yml).
# Installed editable from /app so index_templates/ and config/ ship beside the package, where
# haidang.store.es_setup.templates_dir() finds them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HAIDANG_HOME=/data \
    HAIDANG_CONFIG=/app/config

# lxml and numpy come as wheels; tzdata for Asia/Ho_Chi_Minh; curl for health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl tzdata \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 haidang && mkdir -p /data && chown haidang /data
WORKDIR /app
COPY --chown=haidang . /app
RUN pip install -e . && haidang --help >/dev/null

USER haidang
VOLUME ["/data"]
EXPOSE 8470
CMD ["haidang", "serve"]
