"""The functions laid out as Lambda runs them, on this machine: for benchmarks/cold_start.py.

Built once under .bench/ (gitignored) and rebuilt when what it is made of changes:
- the layer: layers/core/Makefile's `build-CoreLayer` run as `sam build` runs it (in a copy of
  layers/core, with ARTIFACTS_DIR), the same pruning and unchecked-hash bytecode, but with wheels for
  this machine's platform (LAYER_PLATFORMS): the real layer is arm64;
- the runtime: only boto3 (at uv.lock's version) and what it needs, `pip install --target` by the
  template's runtime Python (found through pyenv, as the root Makefile's RUNTIME_BIN);
- the function code: functions/<name>/ as it is (the CodeUri).
A process runs benchmarks/lambda_bootstrap.py with `-I -S` (no site-packages, no PYTHON* variables:
nothing of .venv) and `sys.path` as Lambda orders it: code, then the layer's python/, then the runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import template as cfn

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
LAYER_SOURCE = ROOT / "layers" / "core"
BOOTSTRAP = Path(__file__).resolve().with_name("lambda_bootstrap.py")
HOST_PLATFORMS = {
    "x86_64": "--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64",
    "aarch64": "--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64",
}


@dataclass(frozen=True)
class Layout:
    python: Path  # the template's runtime Python
    layer: Path  # the layer's python/ folder (/opt/python on Lambda)
    runtime: Path  # boto3 and its dependencies (the runtime's own site-packages on Lambda)
    functions: Path = ROOT / "functions"

    def code(self, function: str) -> Path:
        """The function's CodeUri (/var/task on Lambda)."""
        return self.functions / function

    def sys_path(self, function: str) -> list[str]:
        """Ahead of the standard library, in Lambda's order: /var/task, /opt/python, the runtime's."""
        return [str(self.code(function)), str(self.layer), str(self.runtime)]


def runtime_version() -> str:
    return str(cfn.load()["Globals"]["Function"]["Runtime"]).removeprefix("python")


def runtime_python(version: str) -> Path:
    """pyenv's Python of that version, as the root Makefile finds it."""
    for name in (version, f"{version}.0"):
        found = subprocess.run(  # noqa: S603
            ["pyenv", "prefix", name],  # noqa: S607 - pyenv, as the root Makefile finds the runtime
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0 and found.stdout.strip():
            python = Path(found.stdout.strip().splitlines()[0]) / "bin" / f"python{version}"
            if python.is_file():
                return python
    raise RuntimeError(f"needs Python {version} (the template's runtime): pyenv install {version}")


def locked_version(package: str) -> str:
    text = (ROOT / "uv.lock").read_text()
    found = re.search(rf'^name = "{re.escape(package)}"\nversion = "([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"uv.lock has no {package}")
    return found.group(1)


def digest(*parts: str | Path) -> str:
    """A hash of strings and of files' (or whole folders', __pycache__ aside) contents."""
    hashed = hashlib.sha256()
    for part in parts:
        paths = (
            [part] if isinstance(part, str) else sorted(p for p in [part, *part.rglob("*")] if p.is_file())
        )
        for path in paths:
            if isinstance(path, Path):
                if "__pycache__" in path.parts:
                    continue
                hashed.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
            else:
                hashed.update(path.encode() + b"\0")
    return hashed.hexdigest()[:16]


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """A build step, quiet unless it fails."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{(done.stdout + done.stderr)[-4000:]}")


def _built(folder: Path, key: str) -> bool:
    return (folder / ".key").is_file() and (folder / ".key").read_text() == key


def build_layer(python: Path, version: str) -> Path:
    """The layer for this machine; the pip step again only when the requirements or the Makefile change,
    the project package's step (layer-finish) whenever the package changes."""
    platforms = HOST_PLATFORMS.get(os.uname().machine)
    if platforms is None:
        raise RuntimeError(f"no manylinux platform known for {os.uname().machine}")
    folder = BENCH_DIR / f"layer-{version}"
    dependencies = digest(
        str(python), platforms, LAYER_SOURCE / "requirements.txt", LAYER_SOURCE / "Makefile"
    )
    package = digest(dependencies, LAYER_SOURCE / "intercom_events")
    if _built(folder, package):
        return folder / "python"
    target = "build-CoreLayer"
    marker = folder / ".dependencies"
    if marker.is_file() and marker.read_text() == dependencies:
        target = "layer-finish"
        shutil.rmtree(folder / "python" / "intercom_events", ignore_errors=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        # As sam build: the Makefile from its folder, run in a copy of that folder.
        copy = Path(scratch) / "core"
        shutil.copytree(LAYER_SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        environment = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
        _run(
            [
                "make",
                "--no-print-directory",
                "-s",
                "-f",
                str(LAYER_SOURCE / "Makefile"),
                target,
                f"ARTIFACTS_DIR={folder}",
                f"LAYER_PYTHON={python}",
                f"LAYER_PLATFORMS={platforms}",
            ],
            cwd=copy,
            env=environment,
        )
    (folder / ".dependencies").write_text(dependencies)
    (folder / ".key").write_text(package)
    return folder / "python"


def build_runtime(python: Path, version: str) -> Path:
    """boto3 at uv.lock's version and what it needs, nothing else (the runtime's site-packages)."""
    boto3 = locked_version("boto3")
    folder = BENCH_DIR / f"runtime-{version}"
    key = digest(str(python), boto3)
    if _built(folder, key):
        return folder / "site-packages"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _run(
        [
            *(
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--only-binary=:all:",
            ),
            *("--target", str(folder / "site-packages"), f"boto3=={boto3}"),
        ]
    )
    shutil.rmtree(folder / "site-packages" / "bin", ignore_errors=True)
    (folder / ".key").write_text(key)
    return folder / "site-packages"


def ensure() -> tuple[Layout, float]:
    """The layout, built if missing or stale, and the seconds that took."""
    started = time.monotonic()
    version = runtime_version()
    python = runtime_python(version)
    layout = Layout(python=python, layer=build_layer(python, version), runtime=build_runtime(python, version))
    return layout, time.monotonic() - started


def spawn(layout: Layout, function: str, spec: dict[str, Any], environment: dict[str, str]) -> dict[str, Any]:
    """One new process in the layout: returns the bootstrap's result with `wall_ms` (from spawn to its
    result line, the interpreter's start included) and its log (stdout and stderr)."""
    read_end, write_end = os.pipe()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump({**spec, "sys_path": layout.sys_path(function), "result_fd": write_end}, file)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the process ended
    try:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - the runtime's Python on the bootstrap
            [str(layout.python), "-I", "-S", str(BOOTSTRAP), file.name],
            env=environment,
            cwd=layout.code(function),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as results:
            line = results.readline()
            wall_ms = (time.perf_counter() - started) * 1000
        status = process.wait(timeout=120)
        log.seek(0)
        output = log.read().decode(errors="replace")
    finally:
        log.close()
        os.unlink(file.name)
    if not line:
        raise RuntimeError(
            f"{function} ({spec['mode']}) gave no result (exit status {status}):\n{output[-4000:]}"
        )
    return {**json.loads(line), "wall_ms": wall_ms, "log": output}


if __name__ == "__main__":
    layout, seconds = ensure()
    print(f"{layout} in {seconds:.1f} s", file=sys.stderr)
