"""Write reference/configuration.md from the pydantic models of tierwise.config, so the page cannot drift from the code.

Run by mkdocs-gen-files at build time: every key of every section, with its type, default, bounds and description.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import re
import types
import typing
from typing import Any

import annotated_types
import mkdocs_gen_files
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tierwise.config import TierRule, TierwiseConfig

PAGE = "reference/configuration.md"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The config section a key holds (also inside ``X | None`` and ``tuple[X, ...]``), or None."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = _model_of(argument)
        if model is not None:
            return model
    return None


def _type_name(annotation: Any) -> str:
    """A reader's name for a key's type: ``int``, ``text or null``, ``one of csv, parquet``, ``list of int``."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in arguments)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(argument) for argument in arguments if argument is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in arguments else "")
    if origin is tuple or origin is list:
        return f"list of {_type_name(arguments[0])}" if arguments else "list"
    if origin is dict:
        return f"mapping of {_type_name(arguments[0])} to {_type_name(arguments[1])}"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"[{_section_title(annotation)}](#{_anchor(annotation)})"
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    names = {str: "text", int: "int", float: "number", bool: "bool", dt.date: "date (YYYY-MM-DD)"}
    if annotation in names:
        return names[annotation]
    return f"`{getattr(annotation, '__name__', str(annotation))}`"


def _bounds(field: FieldInfo) -> str:
    """The key's numeric bounds and minimum length, as ``>= 1, <= 1``."""
    words = {annotated_types.Ge: (">=", "ge"), annotated_types.Gt: (">", "gt"), annotated_types.Le: ("<=", "le"),
             annotated_types.Lt: ("<", "lt")}
    found = []
    for constraint in field.metadata:
        for kind, (sign, attribute) in words.items():
            if isinstance(constraint, kind):
                found.append(f"{sign} {getattr(constraint, attribute)}")
        if isinstance(constraint, annotated_types.MinLen):
            found.append("not empty" if constraint.min_length == 1 else f"at least {constraint.min_length} characters")
    return ", ".join(found)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "**required**"
    if isinstance(value, BaseModel):
        return "its section's defaults"
    if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
        return "below"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip().removesuffix('...').strip()}`"


def _escape(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, angle brackets shown rather than read as HTML."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")


def _summary(model: type[BaseModel]) -> str:
    """The section's docstring, with Sphinx roles (:class:`X`) shown as code."""
    return re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", inspect.cleandoc(model.__doc__ or ""))


def _sections(model: type[BaseModel], key: str) -> list[tuple[str, type[BaseModel]]]:
    """Every section below ``model`` with its dotted key, depth first, in the order the fields are declared."""
    found = [(key, model)]
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        if nested is not None:
            origin = typing.get_origin(field.annotation)
            suffix = "[]" if origin is tuple else ".<field>" if origin is dict else ""
            found.extend(_sections(nested, f"{key}.{name}{suffix}" if key else f"{name}{suffix}"))
    return found


_KEYS: dict[type[BaseModel], str] = {}


def _section_title(model: type[BaseModel]) -> str:
    return _KEYS.get(model) or "the top level"


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        description = field.description or ""
        bounds = _bounds(field)
        if bounds:
            description = f"{description} ({bounds})" if description else bounds
        lines.append(f"| `{name}` | {_escape(_type_name(field.annotation))} | {_escape(_default(field))} "
                     f"| {_escape(description)} |")
    return lines


def render() -> str:
    """The whole page, as Markdown."""
    sections = _sections(TierwiseConfig, "")
    for key, model in sections:
        _KEYS.setdefault(model, key)
    lines = [
        "# Configuration reference",
        "",
        "Generated when the site is built from the pydantic models in `src/tierwise/config.py` "
        "(`tierwise.config.TierwiseConfig`), so it lists exactly the keys tierwise accepts. "
        "A config is one YAML file; every section is optional except `data`, unknown keys are refused "
        "with the file and the key in the message, and `--set section.key=value` overrides any key from the "
        "command line. Paths in a config resolve against the config file's folder. "
        "`configs/demo.yaml` and `configs/cdnow.yaml` are worked examples.",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    for key, model in sections:
        if model in seen:
            continue
        seen.add(model)
        title = f"`{key}`" if key else "Top level"
        lines += [f"## {title} {{#{_anchor(model)}}}", ""]
        summary = _summary(model)
        if summary:
            lines += [summary, ""]
        others = [other for other, section in sections if section is model and other != key]
        if others:
            lines += ["Also used at " + ", ".join(f"`{other}`" for other in others) + ".", ""]
        lines += [*_table(model), ""]
        if model is TierRule:
            default_rules = [rule.model_dump(exclude_none=True, exclude_defaults=False) for rule in
                             TierwiseConfig.model_fields["tiers"].default_factory()]  # type: ignore[misc]
            lines += [
                "The default `tiers`, used when a config has none:",
                "",
                "```yaml",
                yaml.safe_dump({"tiers": [{key: rule[key] for key in ("tier", "when", "action") if rule.get(key)}
                                          for rule in default_rules]},
                               sort_keys=False, allow_unicode=True, width=120, default_flow_style=None).strip(),
                "```",
                "",
            ]
    return "\n".join(lines)


with mkdocs_gen_files.open(PAGE, "w") as page:
    page.write(render())
mkdocs_gen_files.set_edit_path(PAGE, "../src/tierwise/config.py")
