"""The project carries what its tests need: no test reads anything beside the repository (such as
../shared), and no test module imports another (they share tests/kit.py, tests/fakes.py and the
fixtures of conftest.py), so a fresh clone collects and runs alone."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MODULES = sorted(p for p in TESTS.glob("*.py") if p.name != Path(__file__).name)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_test_module_imports_no_other_test_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.startswith("tests.test_")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_nothing_is_read_from_beside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    for outside in ('"shared"', "'shared'", "../shared", "HOTLINE_SHARED", "parents[2]"):
        assert outside not in text, f"{path.name} reaches outside the repository ({outside})"


def test_the_provider_payloads_are_the_projects_own():
    from tests.kit import PAYLOADS

    assert (TESTS / "data" / "provider-payloads.json").is_file() and len(PAYLOADS) >= 20
