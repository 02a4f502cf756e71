"""Production shape (foundation issue): the compose file, the image and .env.example.

DESIGN.md ("Scale-out"): the compose file shows one of each process — web, worker and beat
from one image, beside PostgreSQL and Redis. Configuration reaches the processes only
through environment variables that portal/settings.py reads (S17), and every variable the
settings read is documented in .env.example (STYLE.md, "Settings").

No Docker engine runs here and PyYAML is not a dependency, so docker-compose.yml is read
with the small reader below, which knows the subset of YAML the file uses and refuses
anything else.
"""

import ast
import copy
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
PASSED_IN_PRODUCTION = {
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
}


# --- a reader for the YAML subset of docker-compose.yml --------------------------------

_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"'#][^:]*?)\s*:(?:\s+(.*))?$""")


def _strip_comment(line: str) -> str:
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'" and (i == 0 or line[i - 1] in " :-"):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str) -> str:
    if text[:1] in "[{|>!":
        raise ValueError(f"unsupported YAML (flow, block scalar or tag): {text!r}")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def load_yaml_subset(text: str):
    """Block mappings and sequences of scalars, comments, quotes, ``&a``/``<<: *a``."""
    lines = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"tab in indentation: {raw!r}")
        line = _strip_comment(raw).rstrip()
        if line.strip():
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    anchors: dict = {}
    pos = 0

    def block(indent):
        return sequence(indent) if lines[pos][1].startswith("- ") else mapping(indent)

    def value_of(rest: str, indent: int, in_sequence: bool):
        nonlocal pos
        anchor = None
        if rest.startswith("&"):
            anchor, _, rest = rest.partition(" ")
            anchor, rest = anchor[1:], rest.strip()
        if rest.startswith("*"):
            value = copy.deepcopy(anchors[rest[1:]])
        elif rest:
            value = _scalar(rest)
        elif pos < len(lines) and (
            lines[pos][0] > indent
            or (not in_sequence and lines[pos][0] == indent and lines[pos][1].startswith("- "))
        ):
            value = block(lines[pos][0])
        else:
            value = None
        if anchor:
            anchors[anchor] = value
        return value

    def mapping(indent):
        nonlocal pos
        result: dict = {}
        merged: dict = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            match = _KEY.match(lines[pos][1])
            if not match:
                raise ValueError(f"not a 'key: value' line: {lines[pos][1]!r}")
            key, rest = _scalar(match[1]), match[2] or ""
            pos += 1
            value = value_of(rest, indent, in_sequence=False)
            if key == "<<":
                merged.update(value)
            else:
                result[key] = value
        if pos < len(lines) and lines[pos][0] > indent:
            raise ValueError(f"unexpected indentation: {lines[pos][1]!r}")
        return {**merged, **result}

    def sequence(indent):
        nonlocal pos
        result = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            item = lines[pos][1][2:].strip()
            if _KEY.match(item) and not item.startswith(('"', "'")):
                raise ValueError(f"mappings inside sequences are not supported: {item!r}")
            pos += 1
            result.append(value_of(item, indent, in_sequence=True))
        return result

    document = block(0)
    if pos != len(lines):
        raise ValueError(f"could not read from line {lines[pos][1]!r}")
    return document


# --- the files -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml_subset((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def settings_source() -> str:
    return (ROOT / "portal" / "settings.py").read_text()


def settings_env_names(source: str) -> set[str]:
    """Names read with env(...), env.<cast>(...), os.environ[...] or os.getenv(...)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            target, args = ast.unparse(node.func), node.args
        elif isinstance(node, ast.Subscript):
            target, args = ast.unparse(node.value), [node.slice]
        else:
            continue
        reads_env = target in ("env", "os.environ", "os.environ.get", "os.getenv")
        first = args[0] if args else None
        if (reads_env or target.startswith("env.")) and isinstance(first, ast.Constant):
            names.add(str(first.value))
    return names


def env_example() -> list[tuple[str, str, str]]:
    """(name, value, the comment line above it) for each variable in .env.example."""
    entries, comment = [], ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comment = line.lstrip("# ").strip()
        elif match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            entries.append((match[1], match[2], comment))
            comment = ""
        elif line.strip():
            raise AssertionError(f".env.example: not NAME=value: {line!r}")
        else:
            comment = ""
    return entries


def compose_variables() -> set[str]:
    """The ${NAME} values that compose fills in from .env."""
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))


# --- the tests -----------------------------------------------------------------------


def test_compose_runs_one_of_each_process(services):
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    assert services["db"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


def test_web_worker_and_beat_share_one_image(services):
    shapes = {(services[name].get("build"), services[name].get("image")) for name in APP_SERVICES}
    assert len(shapes) == 1, shapes
    build, image = shapes.pop()
    assert build and image


def test_each_process_runs_its_own_command(services):
    web = services["web"]["command"]
    assert web.startswith("gunicorn portal.wsgi:application")
    assert "--workers 2" in web
    assert services["worker"]["command"].startswith("celery -A portal worker")
    assert services["beat"]["command"].startswith("celery -A portal beat")


def test_database_plans_for_ssd(services):
    """Issue 9: make bench measured the pages with random_page_cost = 1.1; with the
    default of 4 the members page's query took 22 ms instead of 2 ms."""
    assert "random_page_cost=1.1" in services["db"]["command"]


def test_migrations_run_before_the_app_starts(services):
    migrate = [
        name
        for name, service in services.items()
        if "manage.py migrate" in (service.get("command") or "")
    ]
    assert migrate, "no service runs manage.py migrate"
    for name in APP_SERVICES:
        if name in migrate:
            continue
        depends_on = services[name].get("depends_on") or {}
        assert any(
            (depends_on.get(m) or {}).get("condition") == "service_completed_successfully"
            for m in migrate
        ), f"{name} does not wait for {migrate}"


def test_processes_get_production_settings(services):
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert PASSED_IN_PRODUCTION <= set(environment), name
        assert environment["DEBUG"] in ("0", "false", "False"), name
        assert "@db:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_every_variable_passed_is_read_by_settings(services, settings_source):
    for name in APP_SERVICES:
        for variable in services[name]["environment"]:
            assert re.search(rf"""["']{variable}["']""", settings_source), (
                f"{name} gets {variable}, which portal/settings.py never reads"
            )


def test_env_example_documents_every_variable_the_settings_read(settings_source):
    documented = {name for name, _, _ in env_example()}
    missing = settings_env_names(settings_source) - documented
    assert not missing, f"read by portal/settings.py but not in .env.example: {sorted(missing)}"


def test_env_example_names_only_variables_in_use(settings_source):
    used = settings_env_names(settings_source) | compose_variables()
    unknown = {name for name, _, _ in env_example()} - used
    assert not unknown, f".env.example names variables nothing reads: {sorted(unknown)}"
    undocumented = compose_variables() - {name for name, _, _ in env_example()}
    assert not undocumented, (
        f"docker-compose.yml needs these, .env.example lacks them: {undocumented}"
    )


def test_env_example_comments_each_variable_and_holds_no_secret():
    for name, value, comment in env_example():
        assert comment, f".env.example: {name} has no comment line above it"
        if re.search(r"SECRET_KEY$|PASSWORD|API_KEY", name):
            assert value == "" or "change-me" in value, f".env.example: {name} looks real"


def test_image_is_built_once_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert "requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must end as a non-root user"
    assert not re.search(r"^ENV\b[^\n]*SECRET_KEY", dockerfile, re.M), "no secret kept in the image"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv"} <= set(ignored)
