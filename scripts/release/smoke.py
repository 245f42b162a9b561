#!/usr/bin/env python3
"""Install a built distribution into a fresh virtualenv and check that it works there.

    python scripts/release/smoke.py ARTIFACT [--python PYTHON] [--uri URI] [--keep]

ARTIFACT is a wheel; an sdist or a source checkout (pip compiles it: a release build, minutes
on two cores); or a folder of wheels (pip picks the one that fits this platform and PYTHON, as a
user's pip would).
In the new venv, run from outside the checkout: ``import vellum`` comes from site-packages, its
version is the distribution's, ``py.typed`` and the stub ship, the compiled core is there and
round-trips BSON, a model compiles a query. With ``--uri``, ``examples/quickstart.py`` then runs
against that server (it uses the database ``vellum_quickstart``, so give it a server that no one
else is running the quickstart on). The last line printed says what passed.

Runs with any Python >= 3.10 (stdlib only) on Linux, macOS and Windows: the release workflow
calls it on every runner, the release check (scripts/release_check.sh) here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart.py"
DISTRIBUTION = "vellum-odm"


def log(message: str) -> None:
    print(f"smoke: {message}", file=sys.stderr, flush=True)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, env=env)
    if done.returncode != 0:
        raise SystemExit(f"smoke: failed (exit {done.returncode}): {' '.join(command)}")


def install(python: Path, artifact: Path, cwd: Path) -> None:
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if artifact.suffix == ".whl":
        run([*pip, str(artifact)], cwd=cwd)
        return
    if not artifact.is_dir() or (artifact / "pyproject.toml").is_file():
        # An sdist or a checkout: compiled now, never a wheel pip cached from an earlier build.
        run([*pip, "--no-cache-dir", str(artifact)], cwd=cwd)
        return
    # This project only from the folder, never from PyPI nor an sdist: the wheel that
    # `pip install vellum-odm` would pick among the built ones. Then its dependencies, as its
    # metadata states them, from the index.
    local = ["--no-index", "--no-deps", "--only-binary", ":all:", "--find-links", str(artifact)]
    run([*pip, *local, DISTRIBUTION], cwd=cwd)
    listing = f"import importlib.metadata as m; print(*m.requires({DISTRIBUTION!r}), sep='\\n')"
    requires = subprocess.run(
        [str(python), "-c", listing], cwd=cwd, check=True, stdout=subprocess.PIPE, text=True
    ).stdout.splitlines()
    run([*pip, *requires], cwd=cwd)


def smoke(args: argparse.Namespace) -> int:
    artifact = Path(args.artifact).resolve()
    if not artifact.exists():
        raise SystemExit(f"smoke: {artifact} does not exist")
    work = Path(tempfile.mkdtemp(prefix="vellum-smoke-"))
    venv = work / "venv"
    try:
        started = time.monotonic()
        run([args.python, "-m", "venv", str(venv)], cwd=work)
        python = venv_python(venv)
        log(f"installing {artifact.name} into a fresh venv ({args.python})")
        install(python, artifact, work)
        log(f"installed in {time.monotonic() - started:.0f} s")
        # The checks run in the venv, from a folder outside the checkout; they print one line.
        checks = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--inside"],
            cwd=work,
            stdout=subprocess.PIPE,
            text=True,
        )
        if checks.returncode != 0:
            raise SystemExit(f"smoke: the checks failed in the venv (exit {checks.returncode})")
        summary = checks.stdout.strip()
        if args.uri:
            env = {**os.environ, "PYTHONPATH": ""}
            run([str(python), str(QUICKSTART), args.uri], cwd=work, env=env)
        print(f"smoke: OK {summary}{' + quickstart' if args.uri else ''}", flush=True)
        return 0
    finally:
        if args.keep:
            log(f"kept {venv}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# What runs inside the new venv.


def check_installed() -> int:
    import importlib.metadata
    import sysconfig
    from datetime import datetime, timezone
    from decimal import Decimal

    from check_dist import pep440  # beside this file

    import vellum
    from vellum import ObjectId, VellumBaseModel, decode_bson, encode_bson

    package = Path(vellum.__file__).resolve().parent
    version = importlib.metadata.version(DISTRIBUTION)
    where = f"{sys.implementation.name} {sys.version.split()[0]} ({sysconfig.get_platform()})"
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    platlib = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert package.parent in (purelib, platlib), f"vellum imported from {package}, not the venv"
    # The core spells Cargo's version; the distribution spells it as PEP 440 does.
    assert pep440(vellum.__version__) == version, (vellum.__version__, version)
    for name in ("py.typed", "_core.pyi"):
        assert (package / name).is_file(), f"{name} is missing from the installed package"
    core = Path(vellum._core.__file__)  # pyright: ignore[reportPrivateUsage]
    suffix = ".pyd" if os.name == "nt" else ".abi3.so"
    assert core.name.endswith(suffix), f"the core is {core.name}, not an abi3 extension"

    oid = ObjectId()
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    document = {"_id": oid, "price": Decimal("1.10"), "when": when, "tags": ["a"], "n": 2**40}
    assert decode_bson(encode_bson(document)) == document, "BSON round trip changed the document"

    class User(VellumBaseModel):
        name: str
        age: int = 0

    assert (User.Q.age >= 18).to_filter() == {"age": {"$gte": 18}}
    print(f"{DISTRIBUTION} {version} on {where}: import, typing files, core, BSON, queries")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", nargs="?", help="wheel, sdist, checkout or folder of wheels")
    parser.add_argument("--python", default=sys.executable, help="the venv's interpreter")
    parser.add_argument("--uri", help="run examples/quickstart.py against this MongoDB")
    parser.add_argument("--keep", action="store_true", help="keep the venv (its path is shown)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return check_installed()
    if not args.artifact:
        parser.error("ARTIFACT is required")
    return smoke(args)


if __name__ == "__main__":
    sys.exit(main())
