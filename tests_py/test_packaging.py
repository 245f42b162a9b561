"""What a release ships and what the contributor docs promise, checked in seconds: against this
checkout and the installed distribution. Building and installing the real wheel and sdist is the
release check's job (scripts/release_check.sh, run by CI after the tests)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.version import Version

import vellum

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "vellum-odm"
# The files whose paths must exist: the contributor docs, and what CI and the release run.
DOCS = (
    "ARCHITECTURE.md",
    "CONTRIBUTING.md",
    ".github/workflows/release.yml",
    ".pre-commit-config.yaml",
    ".ci/run",
)
# A repository path: under a top-level folder of the repository, or a file at its root.
TOP = r"(?:src|python|tests_py|tests_rs|scripts|benches|examples|docs|\.ci|\.github)"
PATH = re.compile(
    rf"(?<![\w./$-])({TOP}/[\w./-]*|[\w-]+\.(?:md|toml|lock|txt|yml|yaml))(?![\w/\\-])"
)


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def cargo_version() -> str:
    match = re.search(r'^version = "([^"]+)"', read("Cargo.toml"), re.M)
    assert match is not None
    return match.group(1)


def test_one_version_from_cargo_toml() -> None:
    """Cargo.toml writes the version; the distribution's metadata and `vellum.__version__` (compiled
    into the core) are the same version, and pyproject.toml leaves it to maturin."""
    installed = importlib.metadata.version(DISTRIBUTION)
    assert Version(vellum.__version__) == Version(installed) == Version(cargo_version())
    assert vellum.__version__ == cargo_version()
    assert "__version__" in vellum.__all__
    project = read("pyproject.toml").split("[project]", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project
    assert not re.search(r"^version\s*=", project, re.M)


def test_the_installed_distribution_ships_typing_files_and_the_core() -> None:
    files = importlib.metadata.files(DISTRIBUTION) or []
    names = {str(path).replace("\\", "/") for path in files}
    if "vellum/__init__.py" not in names:
        pytest.skip("an editable install (maturin develop); the release check covers the wheel")
    assert {"vellum/py.typed", "vellum/_core.pyi"} <= names
    assert any(re.fullmatch(r"vellum/_core\.(abi3\.so|pyd)", name) for name in names)


def test_the_supported_python_range_is_stated_once_everywhere() -> None:
    """3.10 is the floor of requires-python, of the abi3 wheel (pyo3's abi3-py310), of the
    classifiers and of the lints; the classifiers list every version up from it."""
    pyproject, cargo = read("pyproject.toml"), read("Cargo.toml")
    assert 'requires-python = ">=3.10"' in pyproject
    assert '"abi3-py310"' in cargo
    assert 'target-version = "py310"' in pyproject
    assert 'pythonVersion = "3.10"' in pyproject
    classifiers = re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', pyproject)
    minors = [int(minor) for minor in classifiers]
    assert minors == list(range(10, max(minors) + 1))
    metadata = importlib.metadata.metadata(DISTRIBUTION)
    assert metadata["Requires-Python"] == ">=3.10"
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_named_in_the_docs_exists(doc: str) -> None:
    named = {match.rstrip(".") for match in PATH.findall(read(doc))}
    assert named, f"{doc} names no path"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{doc} names paths that do not exist: {missing}"
