# pricealert: one image for every process (web, feeder, worker, beat, migrate).
# The compose file picks the process with `command:`; the default is the web server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=pricealert.settings

# Every pinned requirement ships a manylinux wheel, so no compiler is needed.
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app \
    && mkdir -p /app/var \
    && chown app:app /app/var

COPY --chown=root:root . .

# Static files are collected at build time and served by whitenoise. The key is
# a throwaway that only lets settings load; it is not stored in the image's env.
RUN DEBUG=false SECRET_KEY=collectstatic-at-build-time-only FIELD_ENCRYPTION_KEY=collectstatic-only \
    python manage.py collectstatic --noinput --verbosity 0

# /app/var is the only writable place: the generated secret key and the
# celery beat schedule live there (a named volume in docker-compose.yml).
USER app
EXPOSE 8000
# Run through sh: works even where a checkout lost the script's executable bit.
ENTRYPOINT ["sh", "/app/scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "pricealert.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--control-socket", "/tmp/gunicorn.ctl"]
