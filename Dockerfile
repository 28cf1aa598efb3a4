# One image for the web process (gunicorn), the Celery worker and Celery beat (docker-compose.yml).
# A pinned release: the image changes only when this line does.
FROM python:3.11.11-slim-bookworm

# PYTHONPATH: run the code from /app (templates/, static/ and locale/ live beside it), not from site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    HEALING_VAR_DIR=/data/var \
    REPORTS_DIR=/data/reports

WORKDIR /app
RUN groupadd --system healing && useradd --system --gid healing --home-dir /app --shell /usr/sbin/nologin healing

# Dependencies first, from the lock file alone, so a code change does not reinstall them: exact versions, and
# pip refuses any file whose hash is not in requirements.lock (`make lock` writes it from pyproject.toml).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself, and its static files collected for the web process.
COPY . .
RUN pip install --no-deps . \
    && DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /data/var /data/reports \
    && chown -R healing:healing /data

USER healing
EXPOSE 8000
# The web process's health, for `docker run` as for compose: any answer below 500 from the sign-in page.
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import http.client, sys; c = http.client.HTTPConnection('127.0.0.1', 8000, timeout=5); c.request('GET', '/accounts/login/', headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'}); sys.exit(0 if c.getresponse().status < 500 else 1)"]
CMD ["gunicorn", "healing.wsgi:application", "--bind", "0.0.0.0:8000", "--config", "gunicorn.conf.py", "--workers", "3", "--access-logfile", "-"]
