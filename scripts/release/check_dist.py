#!/usr/bin/env python3
"""Check a folder of built distributions before it is published.

    python scripts/release/check_dist.py DIST [--complete] [--tag TAG]

Every file in DIST: one version (Cargo.toml's, spelled as PEP 440 spells it), one sdist at most,
abi3 wheels for CPython >= 3.10 that carry the package's typing files (``py.typed``, the core's
stub) and its compiled core; and ``twine check --strict`` passes on all of them (the metadata
and the README render on PyPI). ``--complete``: every platform of the release workflow is
there, and the sdist. ``--tag``: the git tag being released names that version (``v0.1.0``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The platform tags of the release workflow's wheels (.github/workflows/release.yml).
PLATFORMS = {
    "manylinux x86_64": re.compile(r"manylinux_2_\d+_x86_64"),
    "manylinux aarch64": re.compile(r"manylinux_2_\d+_aarch64"),
    "musllinux x86_64": re.compile(r"musllinux_1_\d+_x86_64"),
    "musllinux aarch64": re.compile(r"musllinux_1_\d+_aarch64"),
    "macOS x86_64": re.compile(r"macosx_\d+_\d+_x86_64"),
    "macOS arm64": re.compile(r"macosx_\d+_\d+_arm64"),
    "Windows x86_64": re.compile(r"win_amd64"),
}
WHEEL = re.compile(r"vellum_odm-(?P<version>[^-]+)-cp310-abi3-(?P<platform>.+)\.whl")
SDIST = re.compile(r"vellum_odm-(?P<version>.+)\.tar\.gz")
IN_WHEEL = ("vellum/__init__.py", "vellum/py.typed", "vellum/_core.pyi")
# What compiling the sdist needs (Cargo.toml's `include`, plus the Python package).
IN_SDIST = (
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "LICENSE",
    "src/lib.rs",
    "tests_rs/core.rs",
    "python/vellum/__init__.py",
    "python/vellum/py.typed",
    "python/vellum/_core.pyi",
)


def pep440(version: str) -> str:
    """A Cargo version as maturin writes it in the metadata (0.2.0-alpha.1 -> 0.2.0a1)."""
    for cargo, pep in (("-alpha.", "a"), ("-beta.", "b"), ("-rc.", "rc")):
        version = version.replace(cargo, pep)
    return version


def cargo_version() -> str:
    """The version of the release: Cargo.toml's, which is the only place it is written."""
    match = re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M)
    assert match, "no version in Cargo.toml"
    return pep440(match.group(1))


def check(dist: Path, complete: bool, tag: str | None) -> list[str]:
    problems: list[str] = []
    expected = cargo_version()
    if tag is not None and tag.removeprefix("v") != expected:
        problems.append(f"tag {tag} does not name the version {expected} (Cargo.toml)")
    files = sorted(p for p in dist.iterdir() if p.is_file())
    if not files:
        return [*problems, f"{dist} holds no distribution"]
    covered: set[str] = set()
    sdists = 0
    for path in files:
        wheel, sdist = WHEEL.fullmatch(path.name), SDIST.fullmatch(path.name)
        if wheel:
            version = wheel["version"]
            names = set(zipfile.ZipFile(path).namelist())
            missing = [name for name in IN_WHEEL if name not in names]
            if not any(re.fullmatch(r"vellum/_core\.(abi3\.so|pyd)", n) for n in names):
                missing.append("the compiled core vellum/_core.*")
            if missing:
                problems.append(f"{path.name} lacks {', '.join(missing)}")
            tags = wheel["platform"]
            covered.update(name for name, pattern in PLATFORMS.items() if pattern.search(tags))
        elif sdist:
            version = sdist["version"]
            sdists += 1
            with tarfile.open(path) as archive:
                names = {name.split("/", 1)[-1] for name in archive.getnames()}
            missing = [name for name in IN_SDIST if name not in names]
            if missing:
                problems.append(f"{path.name} lacks {', '.join(missing)}")
        else:
            problems.append(f"{path.name} is not a vellum-odm abi3 wheel or sdist")
            continue
        if version != expected:
            problems.append(f"{path.name} is version {version}, Cargo.toml says {expected}")
    if sdists > 1:
        problems.append(f"{sdists} sdists")
    if complete:
        problems += [f"no wheel for {name}" for name in PLATFORMS if name not in covered]
        if sdists == 0:
            problems.append("no sdist")
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if twine.returncode != 0:
        problems.append(f"twine check --strict failed:\n{twine.stdout}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path)
    parser.add_argument("--complete", action="store_true", help="every platform and the sdist")
    parser.add_argument("--tag", help="the git tag being released, e.g. v0.1.0")
    args = parser.parse_args()
    problems = check(args.dist, args.complete, args.tag)
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if problems:
        return 1
    count = sum(1 for p in args.dist.iterdir() if p.is_file())
    print(f"check_dist: {count} files in {args.dist} OK (version {cargo_version()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
