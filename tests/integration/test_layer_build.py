"""The CoreLayer as Lambda should load it: bytecode for every module, no copy of the runtime's AWS SDK.

`sam build` runs layers/core/Makefile's `build-CoreLayer`: a pip install for the Lambda platform (from
PyPI, run by `make build`, not here), then `layer-finish`, which these tests run on a small fake
site-packages with this interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
LAYER_MAKEFILE = ROOT / "layers" / "core" / "Makefile"
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make, as sam build does")

# The layer's sources before the finish step, by path: the installed packages and the project package.
INSTALLED = {
    "botocore/__init__.py": "",
    "botocore-1.44.8.dist-info/METADATA": "Name: botocore\n",
    "boto3/__init__.py": "",
    "boto3-1.40.0.dist-info/METADATA": "Name: boto3\n",
    "s3transfer/__init__.py": "",
    "urllib3/__init__.py": "",
    "urllib3-2.8.0.dist-info/METADATA": "Name: urllib3\n",
    "jmespath/__init__.py": "",
    "jmespath-1.1.0.data/scripts/jp.py": "",
    "jmespath-1.1.0.dist-info/METADATA": "Name: jmespath\n",
    "dateutil/__init__.py": "",
    "python_dateutil-2.9.0.post0.dist-info/METADATA": "Name: python-dateutil\n",
    "six.py": "",
    "pydantic/__init__.py": "",
    "pydantic/main.py": "MODEL = 'pydantic'\n",
    "pydantic-2.14.4.dist-info/METADATA": "Name: pydantic\n",
}
PROJECT = {
    "intercom_events/__init__.py": "ORIGIN = 'compiled'\n",
    "intercom_events/logic/__init__.py": "",
    "intercom_events/logic/delivery.py": "STEP = 1\n",
    "intercom_events/console/index.html": "<!doctype html>\n",
    # Left by the developer's own interpreter: stale for the runtime, and timestamp-based.
    "intercom_events/__pycache__/__init__.cpython-39.pyc": "not bytecode",
}
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make(target: str, cwd: Path, artifacts: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - make, on the repository's own Makefile
        [MAKE or "make", *options, "-f", str(LAYER_MAKEFILE), target, f"ARTIFACTS_DIR={artifacts}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        # As sam build runs it: no make flags inherited from an outer make.
        env={k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}},
    )


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """The layer's python/ folder after `layer-finish`, run as sam build would (in a copy of layers/core)."""
    source, artifacts = tmp_path / "source", tmp_path / "artifacts"
    write_tree(source, PROJECT)
    write_tree(artifacts / "python", INSTALLED)
    make("layer-finish", source, artifacts, f"LAYER_PYTHON={sys.executable}")
    return artifacts / "python"


def pyc_flags(pyc: Path) -> int:
    """PEP 552's flags word: 0b01 hash-based, 0b10 checked against the source."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_the_core_layer_is_built_by_its_makefile_with_the_finish_step(tmp_path: Path) -> None:
    decoded, problems = decode_str((ROOT / "template.yaml").read_text())
    assert not problems, [str(p) for p in problems]
    template = json.loads(json.dumps(decoded))
    layer = template["Resources"]["CoreLayer"]
    runtime = template["Globals"]["Function"]["Runtime"]

    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["ContentUri"] == str(LAYER_MAKEFILE.parent.relative_to(ROOT))
    # sam build names the target after the logical id; it installs for the template's runtime, then
    # runs every step of layer-finish.
    build = make("build-CoreLayer", ROOT / "layers" / "core", tmp_path, "-n").stdout
    finish = make("layer-finish", ROOT / "layers" / "core", tmp_path, "-n").stdout
    assert f"--python-version {runtime.removeprefix('python')} " in build
    assert finish.strip() and build.rstrip().endswith(finish.strip())


def test_every_module_of_the_layer_has_bytecode_used_without_checking_the_source(finished: Path) -> None:
    sources = sorted(finished.rglob("*.py"))
    assert len(sources) >= len([p for p in PROJECT if p.endswith(".py")])  # the .py stay, for tracebacks
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        assert compiled.is_file(), f"no bytecode for {source.relative_to(finished)}"
    every_pyc = list(finished.rglob("*.pyc"))
    assert every_pyc and all(pyc_flags(pyc) == 0b01 for pyc in every_pyc), "only unchecked-hash .pyc"
    assert (finished / "intercom_events/console/index.html").is_file()

    # As after Lambda unpacks the zip: sources dated 1980 (and here, one changed); the bytecode is used.
    package = finished / "intercom_events/__init__.py"
    package.write_text("ORIGIN = 'source'\n")
    for source in sources:
        os.utime(source, (315_532_800, 315_532_800))
    imported = subprocess.run(
        [sys.executable, "-c", "import intercom_events; print(intercom_events.ORIGIN)"],
        env={"PYTHONPATH": str(finished), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "compiled"


def test_the_layer_carries_no_copy_of_the_runtime_aws_sdk(finished: Path) -> None:
    present = {path.name for path in finished.iterdir()}
    assert {name for name in present if name.split("-")[0] in RUNTIME_PROVIDED} == set()
    # What the runtime lacks, or the project pins itself, stays.
    assert {"pydantic", "pydantic-2.14.4.dist-info", "dateutil", "six.py", "intercom_events"} <= present
