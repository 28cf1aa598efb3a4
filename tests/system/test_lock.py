"""requirements.lock: the image installs exact, hash-checked versions that pyproject.toml's ranges allow."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BASE_DIR = Path(settings.BASE_DIR)
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)")


def pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, its sha256 hashes), from the lock file's entries."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (BASE_DIR / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            entries[current] = (match[2], [])
        elif current and (found := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[current][1].append(found[1])
    return entries


def test_every_pinned_package_carries_the_hashes_of_its_files():
    locked = pins()
    assert len(locked) >= 20
    assert {name for name, (_version, hashes) in locked.items() if not hashes} == set()


def test_the_lock_pins_every_runtime_dependency_within_its_range():
    locked = pins()
    dependencies = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    outside = []
    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        version = locked.get(name, ("missing", []))[0]
        if version == "missing" or not dependency.specifier.contains(version, prereleases=True):
            outside.append(f"{dependency} locked at {version}")
    assert outside == [], "run `make lock` after changing pyproject.toml"


def test_the_image_and_make_install_install_from_the_lock_with_hashes_required():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "COPY requirements.lock ./" in dockerfile and "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile  # the project itself adds no unlocked package
    makefile = (BASE_DIR / "Makefile").read_text()
    assert "--require-hashes -r requirements.lock" in makefile
