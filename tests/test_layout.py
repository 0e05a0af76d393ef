"""The map is the territory: every module is named in its package's map and in the docs' Layout."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "idf_etl"
# The Layout section of the development page (docs/development.md) maps the code.
DEVELOPMENT = (Path(__file__).parents[1] / "docs" / "development.md").read_text()
LAYOUT = DEVELOPMENT.split("## Layout\n")[1].split("\n## ")[0]
PACKAGES = sorted(p.parent for p in SRC.glob("*/__init__.py"))


def _modules(package: Path) -> list[str]:
    return sorted(p.name for p in package.glob("*.py") if p.name != "__init__.py")


def test_every_stage_package_init_is_a_map_that_imports_nothing():
    assert {p.name for p in PACKAGES} >= {
        "fetch",
        "parse",
        "load",
        "warehouse",
        "pipeline",
        "cli",
        "report",
    }
    for package in PACKAGES:
        tree = ast.parse((package / "__init__.py").read_text())
        doc = ast.get_docstring(tree)
        assert doc, f"{package.name}/__init__.py has no map"
        assert len(tree.body) == 1, f"{package.name}/__init__.py holds more than its map"
        for module in _modules(package):
            assert f"`{module}`" in doc, f"{package.name}/__init__.py does not name {module}"


def test_the_docs_layout_names_every_module_under_its_package():
    tree_block = LAYOUT.split("```\n")[1]
    named = set()
    package = ""
    for line in tree_block.splitlines():
        m = re.match(r"( *)(\S+)", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        if indent == 2 and name.endswith("/"):
            package = name.rstrip("/")
        elif indent == 2:
            package = ""
            named.add(name)
        elif indent == 4 and package:
            named.add(f"{package}/{name}")
    actual = {p.name for p in SRC.glob("*.py")} | {
        f"{package.name}/{module}" for package in PACKAGES for module in _modules(package)
    }
    assert actual == named, (
        f"docs/development.md Layout: missing {sorted(actual - named)}, stale {sorted(named - actual)}"
    )
