"""S18 (and S25): static analysis. Ruff's security rules are clean; no `|safe`,
`mark_safe` or `{% autoescape off %}` except an explicit, reviewed list (none on user
content); and a dependency audit that fails loudly when it cannot reach its database."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ["accounts", "billing", "contacts", "delegation", "helpdesk", "hosting", "portal"]

pytestmark = pytest.mark.security

UNSAFE = re.compile(
    r"\|\s*safe(seq)?\b|mark_safe\s*\(|SafeString\s*\(|SafeText\s*\(|autoescape\s+off"
    r"|\bmark_for_escaping\b|@register\.filter\([^)]*is_safe\s*=\s*True|\bMarkup\s*\("
)

# Each reviewed use: (path, the text on that line), and why it never carries user content.
REVIEWED = {
    (
        "templates/accounts/two_factor_setup.html",
        "{{ qr_svg|safe }}",
    ): "SVG that segno draws from the device's otpauth URL: generated markup, no user text",
    (
        "templates/portal/_field.html",
        "{{ field.help_text|safe }}",
    ): "help texts are written in forms and models (password rules are HTML), never by users",
    (
        "portal/templatetags/jinja.py",
        "return mark_safe(jinja.render(values))",
    ): "the output of a Jinja2 template of jinja_templates/, whose environment autoescapes",
    (
        "portal/jinja.py",
        "return Markup(text) % values",
    ): "|fill: a translation from our own catalogues; Markup's % escapes every value",
    (
        "portal/jinja.py",
        'return Markup(_NEWLINES.sub("\\n", text).replace("\\n", "<br>"))',
    ): "|linebreaksbr: the text escaped by html.escape (or already Markup) before the <br>s",
    (
        "helpdesk/admin.py",
        "return Markup(html.escape(str(value)))",
    ): "the admin's ticket table and sidebar: each text escaped as Django escapes (html.escape)",
    (
        "helpdesk/admin.py",
        "return mark_safe(template.render(**values))",
    ): "the admin's Jinja2 copies of Django's templates: the environment autoescapes",
    (
        "helpdesk/admin.py",
        "return Markup(conditional_escape(value))",
    ): "the admin's copies: escaped unless Django already marked it safe, as its templates do",
    (
        "helpdesk/admin.py",
        "show_all_query=Markup(query)",
    ): "the search form's link: Django's own parameter names (_popup, _facets), no input",
}


def plain_text_mail(path: str) -> bool:
    """Plain-text mail templates (bodies and subjects) turn autoescaping off: HTML escaping
    would corrupt text/plain. Subjects are cleaned of CR/LF in portal.mail (S23)."""
    return bool(re.fullmatch(r"templates/[\w/]+/mail/[\w]+\.txt", path))


def unsafe_uses() -> list[tuple[str, int, str]]:
    found = []
    files = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*") if p.suffix in {".py", ".html",
             ".txt"}] + [p for t in ("templates", "jinja_templates") for p in (ROOT / t).rglob("*")
             if p.is_file()]  # fmt: skip
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if "/migrations/" in rel:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if UNSAFE.search(line):
                found.append((rel, number, line.strip()))
    return found


def test_s18_no_unreviewed_safe_or_mark_safe():
    """S18, S25: every `|safe`, `mark_safe`, `SafeString` or `autoescape off` in the code and
    templates is on the reviewed list (or turns escaping off in a plain-text mail)."""
    unreviewed = []
    for rel, number, line in unsafe_uses():
        if "autoescape off" in line and plain_text_mail(rel):
            continue
        if any(rel == path and snippet in line for path, snippet in REVIEWED):
            continue
        unreviewed.append(f"{rel}:{number}: {line}")
    assert not unreviewed, "unreviewed unsafe output (review it and add it to REVIEWED):\n  " + (
        "\n  ".join(unreviewed)
    )


def test_s18_reviewed_list_is_current():
    """S18: every reviewed entry still exists (a stale list reviews nothing)."""
    present = {(rel, line) for rel, _n, line in unsafe_uses()}
    for path, snippet in REVIEWED:
        assert any(rel == path and snippet in line for rel, line in present), (path, snippet)


def test_s18_no_html_mail_template_turns_escaping_off():
    """S25: HTML templates, mail included, always escape."""
    offenders = [
        f"{rel}:{n}" for rel, n, line in unsafe_uses()
        if "autoescape off" in line and rel.endswith(".html")
    ]  # fmt: skip
    assert not offenders


def test_s18_ruff_security_rules_pass():
    """S18: ruff's security rules (flake8-bandit, "S") pass on the whole project, as in
    `make test`'s lint step."""
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--select", "S", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'select\s*=\s*\[[^\]]*"S"', config), "ruff's S rules left the lint"


@pytest.mark.security_only
def test_s18_dependency_audit_against_the_vulnerability_database():
    """S18: pip-audit checks every pinned package of requirements.lock against the
    vulnerability database. It must reach the database for *every* package: an audit that
    could not look a package up is a failure, never a pass (offline, pip-audit by itself
    would skip them all and report "No known vulnerabilities found")."""
    audit = Path(sys.executable).with_name("pip-audit")
    result = subprocess.run(
        [str(audit), "-r", "requirements.lock", "--no-deps", "--disable-pip", "--strict",
         "--progress-spinner", "off", "--timeout", "15", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    if (
        report is None
        or result.returncode != 0
        and not any(d.get("vulns") for d in report.get("dependencies", []))
    ):
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line][:5]
        message = (
            "DEPENDENCY AUDIT NOT DONE: pip-audit could not check requirements.lock against "
            "its vulnerability database (network or PyPI/OSV unreachable?). This is a "
            "failure, not a pass.\n  " + "\n  ".join(errors or result.stderr.splitlines()[-5:])
        )
        print("\n" + message)
        pytest.fail(message, pytrace=False)
    dependencies = report["dependencies"]
    skipped = [d["name"] for d in dependencies if d.get("skip_reason")]
    assert not skipped, f"DEPENDENCY AUDIT INCOMPLETE: not audited: {skipped}"
    vulnerable = {
        f"{d['name']} {d['version']}": [v["id"] for v in d["vulns"]]
        for d in dependencies
        if d.get("vulns")
    }
    assert not vulnerable, f"known vulnerabilities in requirements.lock: {vulnerable}"
    assert len(dependencies) > 20
    print(f"\ndependency audit: {len(dependencies)} packages, no known vulnerabilities")
