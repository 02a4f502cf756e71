"""Production configuration (S16, S17): start-up refuses to run without its secrets, and
Django's deployment checks pass with production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 60 + "-production-like-secret-for-the-check",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "EMAIL_URL": "smtp://mail.example.com:587",
    "DEFAULT_FROM_EMAIL": "Portal <portal@example.com>",
}


def run_manage(*args, env):
    drop = {*PRODUCTION, "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_start_fails_without_required_variable(missing):
    """S17: with DEBUG off, a missing SECRET_KEY, ALLOWED_HOSTS or DATABASE_URL stops start-up."""
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr
    assert "must be set" in result.stderr


def test_deploy_check_passes_with_production_settings():
    """S16: manage.py check --deploy --fail-level WARNING passes under production settings."""
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_default_has_no_fixed_secret():
    """S17: with nothing set the development key is random per checkout, never a fixed
    value in the source."""
    code = "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='portal.settings';django.setup();from django.conf import settings;print(settings.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    key = result.stdout.strip()
    assert len(key) >= 50
    assert key not in (ROOT / "portal" / "settings.py").read_text()
    assert key == (ROOT / ".dev-secret-key").read_text().strip()


def test_secret_key_fallbacks_allow_rotation():
    """S17: SECRET_KEY_FALLBACKS is read from the environment."""
    code = "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='portal.settings';django.setup();from django.conf import settings;print(settings.SECRET_KEY_FALLBACKS)"
    env = dict(os.environ, SECRET_KEY_FALLBACKS="old-one,older-one")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert "old-one" in result.stdout and "older-one" in result.stdout


@pytest.mark.django_db
def test_security_headers_on_real_responses(client):
    """S16: CSP with frame-ancestors 'none', nosniff, referrer policy, no framing."""
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
