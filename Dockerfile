# One image for every process: web (gunicorn), worker and beat (celery), migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext for compilemessages; psycopg's binary wheel brings its own libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --shell /usr/sbin/nologin portal

WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .
# Static files and translations are built into the image. The settings refuse to start
# with DEBUG off and no secret, so the build gets throw-away values that exist only for
# this one command and are not kept in the image.
RUN SECRET_KEY=build-only-not-a-secret DEBUG=0 ALLOWED_HOSTS=localhost \
        DATABASE_URL=sqlite:////tmp/build.sqlite3 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && if find . -name '*.po' | grep -q .; then \
        python manage.py compilemessages --ignore=.venv --verbosity 0; fi \
    && rm -f /tmp/build.sqlite3 \
    && install -d -o portal -g portal /app/media

# The code stays root's and read-only to the processes; uploads go to /app/media.
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
