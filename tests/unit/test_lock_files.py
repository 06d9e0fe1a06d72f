"""The lock files CI installs from must hold every dependency pyproject.toml pins.

`make install-dev` installs the project itself with --no-deps, so a dependency added to
pyproject.toml but missing from a lock file passes on a developer's machine and fails on a
clean clone. `make lock` regenerates both files.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$")


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = PIN.match(requirement.strip())
        assert match, f"not pinned with ==: {requirement}"
        found[normalise(match[1])] = match[2]
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: str) -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    return {
        normalise(name): version
        for name, version in (
            line.split("==", 1) for line in lines if "==" in line and not line.startswith(" ")
        )
    }


def test_every_pinned_dependency_is_in_the_lock_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = pins(project["dependencies"])
    dev = runtime | pins(project["optional-dependencies"]["dev"])
    for path, wanted in (("requirements.lock", runtime), ("requirements-dev.lock", dev)):
        have = locked(path)
        missing = {name: version for name, version in wanted.items() if have.get(name) != version}
        assert not missing, f"{path} lacks {missing}: run `make lock`"
