"""The package is real: pyproject's dependencies match the requirements files, the bundled
data ships inside ``qa`` and is found through ``importlib.resources``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import qa
from qa.resources import BUNDLED_CORPUS, DATA, default_index_dir

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parent.parent


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text("utf-8").splitlines()
    reqs = [re.sub(r"\s+#.*", "", line).strip() for line in lines]
    return [r for r in reqs if r and not r.startswith(("#", "-r"))]


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def test_dependencies_match_the_requirements_files(project):
    assert project["project"]["dependencies"] == _requirements("requirements.txt")
    assert project["project"]["optional-dependencies"]["dev"] == _requirements(
        "requirements-dev.txt"
    )


def test_console_script_and_build_system(project):
    assert project["project"]["scripts"] == {"qa": "qa.cli:main"}
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"


def test_every_data_file_is_package_data(project):
    patterns = project["tool"]["setuptools"]["package-data"]["qa"]
    package = Path(qa.__file__).parent
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    data = {p for d in ("data", "prompts") for p in (package / d).rglob("*") if p.is_file()}
    assert data and data == shipped


def test_bundled_data_is_found_inside_the_package():
    package = Path(qa.__file__).parent
    assert qa.DEFAULT_CORPUS == BUNDLED_CORPUS and BUNDLED_CORPUS.is_relative_to(package)
    assert sorted(p.suffix for p in BUNDLED_CORPUS.iterdir()) == [".md", ".txt"]
    assert (DATA / "answerability.json").is_file()
    assert default_index_dir() == ROOT / "index"  # in a checkout; a user cache when installed
