# Touchpoint's production image: gunicorn (web), Celery worker and beat all run from it.
# Configuration comes from the environment only (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=crm.settings.production

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. The project installs no package
# of its own ([tool.setuptools] packages = []): its code runs from /app, without the
# embedded-server and development extras.
COPY pyproject.toml ./
RUN pip install .

COPY . .

# Static files are collected at build time; these values exist only for this step.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput

RUN useradd --system --create-home --home-dir /home/touchpoint touchpoint \
    && mkdir -p /app/var/run \
    && chown touchpoint:touchpoint /app/var/run
USER touchpoint

EXPOSE 8000
CMD ["gunicorn", "crm.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
