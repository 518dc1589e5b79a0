"""What the documentation tells an admin to write is what folkmoot reads: every TOML
example in the README loads (unknown keys are refused by name), and every
``FOLKMOOT_*`` variable named in the README, the deployment files and the Dockerfile
is a setting (a misspelt one would be silently ignored by a container or a unit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings, load_file_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    ROOT / "Dockerfile",
    ROOT / "docs" / "deploy" / "README.md",
    ROOT / "docs" / "deploy" / "compose.yaml",
    ROOT / "docs" / "deploy" / "folkmoot.service",
]
TEST_ONLY = {"FOLKMOOT_SYNAPSE_PYTHON"}
"""Read by the test suite (conftest), not by folkmoot; so is every ``FOLKMOOT_TEST_*``."""


def toml_examples() -> list[tuple[int, str]]:
    """(line, text) of each fenced TOML block in the README, indentation removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^( *)```toml\n(.*?)^\1```", text, re.S | re.M):
        indent = len(match.group(1))
        body = "\n".join(line[indent:] for line in match.group(2).splitlines())
        found.append((text.count("\n", 0, match.start()) + 1, body))
    return found


@pytest.mark.parametrize(
    "body", [pytest.param(body, id=f"README.md:{line}") for line, body in toml_examples()]
)
def test_each_toml_example_in_the_readme_loads(tmp_path: Path, body: str) -> None:
    path = tmp_path / "folkmoot.toml"
    path.write_text(body, encoding="utf-8")
    load_file_config(path)  # a ConfigError names the key; the test id names the line


def test_the_readme_has_toml_examples_to_check() -> None:
    assert len(toml_examples()) >= 3


def test_every_folkmoot_variable_in_the_docs_is_a_setting() -> None:
    settings = {f"FOLKMOOT_{name.upper()}" for name in Settings.model_fields}
    unknown = {}
    for doc in DOCS:
        for name in re.findall(r"FOLKMOOT_[A-Z][A-Z0-9_]*[A-Z0-9]", doc.read_text("utf-8")):
            if name in settings or name in TEST_ONLY or name.startswith("FOLKMOOT_TEST_"):
                continue
            unknown.setdefault(name, doc.relative_to(ROOT).as_posix())
    assert unknown == {}
