"""benchmarks/lambda_layout.py: a process in the Lambda-like layout sees what Lambda's would, in its order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.lambda_layout import Layout, spawn

HANDLER = """
import importlib.util
import shared

def lambda_handler(event, context):
    return {
        "app": __file__,
        "shared": shared.WHERE,
        "only_runtime": importlib.util.find_spec("only_runtime") is not None,
        "venv_package": importlib.util.find_spec("pydantic") is not None,
        "event": event,
        "function": context.function_name,
    }
"""


def test_code_comes_before_the_layer_and_the_layer_before_the_runtime_and_nothing_else_leaks_in(
    tmp_path: Path,
) -> None:
    functions, layer, runtime = tmp_path / "functions", tmp_path / "opt" / "python", tmp_path / "runtime"
    for folder in (functions / "fn", layer, runtime):
        folder.mkdir(parents=True)
    (functions / "fn" / "app.py").write_text(HANDLER)
    (layer / "app.py").write_text("raise ImportError('the layer shadowed the function code')\n")
    (layer / "shared.py").write_text("WHERE = 'layer'\n")
    (runtime / "shared.py").write_text("WHERE = 'runtime'\n")
    (runtime / "only_runtime.py").write_text("")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"n": 1}))
    layout = Layout(python=Path(sys.executable), layer=layer, runtime=runtime, functions=functions)

    spec = {
        "mode": "app",
        "events": [str(event)],
        "function_name": "Fn",
        "memory_mb": 128,
        "timeout_seconds": 3,
    }
    result = spawn(layout, "fn", spec, {"PYTHONPATH": str(tmp_path)})

    assert layout.sys_path("fn") == [str(functions / "fn"), str(layer), str(runtime)]
    [answer] = result["answers"]
    assert Path(answer["app"]) == functions / "fn" / "app.py"
    assert answer["shared"] == "layer"
    assert answer["only_runtime"] is True
    # `-I -S`: neither this venv's site-packages nor PYTHONPATH reaches the process.
    assert answer["venv_package"] is False
    assert answer["event"] == {"n": 1} and answer["function"] == "Fn"
    assert result["wall_ms"] > 0 and result["maxrss_kb"] > 0
