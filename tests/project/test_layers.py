"""The import-linter contracts in pyproject.toml hold today, and an import against the layers
makes ``lint-imports`` (run by ``make test``) fail, naming the offending import."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.project import PACKAGES, ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_project_keeps_its_layers():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_app_importing_an_app_above_it_is_named(tmp_path):
    project = copy_of_the_project(tmp_path)
    add_line(project / "customers" / "selectors.py", "import orders.models  # noqa")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "customers is not allowed to import orders" in result.stdout
    assert "customers.selectors -> orders.models" in result.stdout


def test_an_app_importing_config_is_named(tmp_path):
    project = copy_of_the_project(tmp_path)
    add_line(project / "shop" / "services.py", "from config import settings  # noqa")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "shop.services -> config" in result.stdout


def test_a_service_importing_a_view_is_named(tmp_path):
    project = copy_of_the_project(tmp_path)
    add_line(project / "stores" / "services.py", "import stores.api  # noqa")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "stores.services -> stores.api" in result.stdout


def interface_modules():
    """Views, API views, forms and template tags of every app (modules or packages)."""
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT / package).with_suffix("").parts
            if parts[0] in {"views", "api", "forms", "templatetags", "web"}:
                yield path


def test_no_interface_opens_a_transaction():
    """Transactions belong to services: a view, API view, form or template tag calls one."""
    offenders = []
    for path in interface_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "atomic":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")

    assert len(list(interface_modules())) >= 15
    assert offenders == []
