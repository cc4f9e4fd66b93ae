"""template.yaml as the local stack reads it: its resources, its functions' settings, and its values
with `!Ref`, `!GetAtt` and `!Sub` resolved to the names the local stack uses.

Decoded by cfn-lint (a development dependency, `make validate` runs it), which understands the
short-form tags. The resolution is written here because no installed library resolves intrinsic
functions against names of our choosing; it knows only those three and fails clearly on any other.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import REPO_ROOT
from local.lambda_runtime import ACCOUNT_ID, REGION

TEMPLATE_PATH = REPO_ROOT / "template.yaml"
# SAM's defaults for what a function and its Globals leave out.
SAM_DEFAULT_TIMEOUT_SECONDS = 3
SAM_DEFAULT_MEMORY_MB = 128
SQS_DEFAULT_BATCH_SIZE = 10

# A value for `Ref` (attribute None) or `Fn::GetAtt` (the attribute) of a logical id.
Lookup = Callable[[str, str | None], str]

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """template.yaml says something the local stack cannot follow."""


@functools.cache
def load(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts, lists and scalars (cfn-lint's nodes carry positions; dropped)."""
    decoded, problems = _decode(str(path))
    if problems or decoded is None:
        raise TemplateError(f"{path.name} cannot be read: " + "; ".join(str(p) for p in problems))
    plain: dict[str, Any] = json.loads(json.dumps(decoded))
    return plain


def _decode(path: str) -> tuple[Any, list[Any]]:
    from cfnlint.decode import decode  # imported here: only the local stack needs it

    return decode(path)


def resources(kind: str, template: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The `Properties` of each resource of type `kind`, by logical id."""
    template = template or load()
    return {
        logical_id: dict(resource.get("Properties", {}))
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == kind
    }


def resource_type(logical_id: str, template: Mapping[str, Any] | None = None) -> str | None:
    resource = (template or load())["Resources"].get(logical_id)
    return None if resource is None else str(resource.get("Type"))


# --- functions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqsSource:
    """A function's SQS event source mapping."""

    queue: Any  # unresolved, e.g. {"Fn::GetAtt": ["CallbackQueue", "Arn"]}
    batch_size: int
    maximum_concurrency: int | None


@dataclass(frozen=True)
class FunctionSettings:
    """One AWS::Serverless::Function with the template's Globals applied."""

    logical_id: str
    name: str  # the folder under functions/: api, dispatcher, poller
    timeout_seconds: int
    memory_mb: int
    variables: dict[str, Any]  # Globals' environment, the function's own over it; unresolved
    sqs_source: SqsSource | None


def functions(template: Mapping[str, Any] | None = None) -> dict[str, FunctionSettings]:
    """Every function by its folder's name (its CodeUri, functions/<name>/)."""
    template = template or load()
    defaults = template.get("Globals", {}).get("Function", {})
    found = {}
    for logical_id, properties in resources("AWS::Serverless::Function", template).items():
        name = Path(str(properties.get("CodeUri", "")).rstrip("/")).name
        variables = dict(defaults.get("Environment", {}).get("Variables", {}))
        variables.update(properties.get("Environment", {}).get("Variables", {}))
        found[name] = FunctionSettings(
            logical_id=logical_id,
            name=name,
            timeout_seconds=int(
                properties.get("Timeout", defaults.get("Timeout", SAM_DEFAULT_TIMEOUT_SECONDS))
            ),
            memory_mb=int(properties.get("MemorySize", defaults.get("MemorySize", SAM_DEFAULT_MEMORY_MB))),
            variables=variables,
            sqs_source=_sqs_source(properties),
        )
    return found


def function(name: str) -> FunctionSettings:
    """The function whose code is functions/<name>/ (its logical id is accepted too)."""
    every = functions()
    for settings in every.values():
        if name in (settings.name, settings.logical_id):
            return settings
    raise TemplateError(f"template.yaml has no function {name!r}; it has {', '.join(sorted(every))}")


def sqs_source(name: str) -> SqsSource:
    """The SQS event source of the function whose code is functions/<name>/."""
    source = function(name).sqs_source
    if source is None:
        raise TemplateError(f"template.yaml gives the {name} function no SQS event source")
    return source


def _sqs_source(properties: Mapping[str, Any]) -> SqsSource | None:
    sources = [e for e in properties.get("Events", {}).values() if e.get("Type") == "SQS"]
    if not sources:
        return None
    if len(sources) > 1:
        raise TemplateError("the local stack feeds a function from one SQS queue at most")
    source = sources[0].get("Properties", {})
    maximum = source.get("ScalingConfig", {}).get("MaximumConcurrency")
    return SqsSource(
        queue=source["Queue"],
        batch_size=int(source.get("BatchSize", SQS_DEFAULT_BATCH_SIZE)),
        maximum_concurrency=None if maximum is None else int(maximum),
    )


# --- intrinsic functions -----------------------------------------------------------------------------


def pseudo_parameters(stack_name: str) -> dict[str, str]:
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def resolve(value: Any, lookup: Lookup) -> Any:
    """`value` with every `Ref`, `Fn::GetAtt` and `Fn::Sub` replaced by what `lookup` says; any other
    intrinsic function is a TemplateError."""
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(key, argument)] = value.items()
        if key == "Ref":
            return lookup(str(argument), None)
        if key == "Fn::GetAtt":
            logical_id, attribute = _get_att(argument)
            return lookup(logical_id, attribute)
        if key == "Fn::Sub":
            return _sub(argument, lookup)
        if key.startswith("Fn::") or key == "Condition":
            raise TemplateError(f"the local stack does not understand {key} (only Ref, Fn::GetAtt, Fn::Sub)")
    return {key: resolve(item, lookup) for key, item in value.items()}


def references(value: Any) -> set[str]:
    """The logical ids and parameters that `value` refers to (pseudo-parameters included)."""
    return {name for name, _ in _references(value)}


def _references(value: Any) -> Iterator[tuple[str, str | None]]:
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if list(value) == ["Ref"]:
            yield str(value["Ref"]), None
        elif list(value) == ["Fn::GetAtt"]:
            yield _get_att(value["Fn::GetAtt"])
        elif list(value) == ["Fn::Sub"]:
            template, variables = _sub_parts(value["Fn::Sub"])
            for name in _SUB_VARIABLE.findall(template):
                if not name.startswith("!") and name.split(".")[0] not in variables:
                    yield _sub_reference(name)
            yield from _references(variables)
        else:
            for item in value.values():
                yield from _references(item)


def _get_att(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    if not isinstance(argument, list) or len(argument) != 2 or not all(isinstance(a, str) for a in argument):
        raise TemplateError(f"Fn::GetAtt needs a logical id and an attribute, not {argument!r}")
    return argument[0], argument[1]


def _sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(argument, str):
        return argument, {}
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        return argument[0], dict(argument[1])
    raise TemplateError(f"Fn::Sub needs a string or [string, variables], not {argument!r}")


def _sub_reference(name: str) -> tuple[str, str | None]:
    # ${AWS::Region} is a Ref; ${Bucket.Arn} a GetAtt.
    if "." in name:
        logical_id, attribute = name.split(".", 1)
        return logical_id, attribute
    return name, None


def _sub(argument: Any, lookup: Lookup) -> str:
    template, variables = _sub_parts(argument)
    values = {name: str(resolve(value, lookup)) for name, value in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):  # ${!Literal} is the text ${Literal}
            return "${" + name[1:] + "}"
        if name in values:
            return values[name]
        logical_id, attribute = _sub_reference(name)
        return str(lookup(logical_id, attribute))

    return _SUB_VARIABLE.sub(replace, template)
