"""docs/security.md lists every attack of the attack suites (tests/integration/test_attacks.py,
test_lifecycle_attacks.py, test_journal_rooms.py, test_call_attacks.py, test_uploads.py,
test_media_attacks.py, test_materials_polls_attacks.py and issue 12's test_quiet_hours_attacks.py,
test_reports_audit_attacks.py, test_records_attacks.py and test_scheduled_attacks.py, issue 14's
test_console_attacks.py and test_console_school_attacks.py, issue 13's test_federation.py, and
the review's test_console_federation_attacks.py and test_federation_leaving_attacks.py,
test_roster_rights_attacks.py and test_org_settings_attacks.py), and nothing else.

The attack suite is parsed (``ast``), not imported, so this runs without Synapse.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ATTACK_FILES = [REPO / "tests" / "integration" / name
                for name in ("test_attacks.py", "test_lifecycle_attacks.py", "test_journal_rooms.py",
                             "test_call_attacks.py", "test_uploads.py", "test_media_attacks.py",
                             "test_materials_polls_attacks.py", "test_quiet_hours_attacks.py",
                             "test_reports_audit_attacks.py", "test_records_attacks.py",
                             "test_scheduled_attacks.py", "test_console_attacks.py",
                             "test_console_school_attacks.py", "test_federation.py",
                             "test_console_federation_attacks.py", "test_federation_leaving_attacks.py",
                             "test_roster_rights_attacks.py", "test_org_settings_attacks.py",
                             "test_invite_withdrawal_attacks.py", "test_roster_admin_rights_attacks.py",
                             "test_round20_attacks.py", "test_workers_federation.py",
                             "test_delayed_state_attacks.py")]
DOC = REPO / "docs" / "security.md"
MIN_ATTACKS = 40  # issue 3: at least 40 distinct attacks


def attack_tests() -> list[str]:
    """Names of the ``async def test_*`` functions of the attack suites, in file order."""
    names = []
    for path in ATTACK_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names += [node.name for node in tree.body
                  if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_")]
    return names


def table_tests() -> list[str]:
    """Test names in backticks in the last cell of the table rows of docs/security.md."""
    names = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if len(cells) >= 7:
            names += re.findall(r"`(test_\w+)`", cells[-1])
    return names


def test_the_suite_has_enough_attacks():
    names = attack_tests()
    assert len(names) >= MIN_ATTACKS, names
    assert len(names) == len(set(names)), "a test name is defined twice"


def test_every_attack_is_in_the_table():
    listed = set(table_tests())
    missing = [n for n in attack_tests() if n not in listed]
    assert not missing, f"docs/security.md does not list: {missing}"


def test_the_table_names_only_existing_tests_once():
    names = table_tests()
    unknown = sorted(set(names) - set(attack_tests()))
    assert not unknown, f"docs/security.md lists tests that do not exist: {unknown}"
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"docs/security.md lists tests more than once: {repeated}"


def test_rows_are_numbered_in_order():
    numbers = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|", line)
        if m:
            numbers.append(int(m.group(1)))
    assert numbers == list(range(1, len(attack_tests()) + 1))
