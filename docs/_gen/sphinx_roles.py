"""A griffe extension: the Sphinx roles of numpydoc docstrings (:func:`fit`) become links in the API reference.

numpydoc docstrings cross-reference with Sphinx roles, which Markdown would show as raw text. Each role becomes an
optional mkdocs-autorefs reference to the name it resolves to from where the docstring is (a link where that object
is documented on the site, plain code where it is not, never a warning). Loaded by mkdocstrings (mkdocs.yml).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|ref):`(?P<body>[^`]+)`")
_EXPLICIT_TITLE = re.compile(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>$")


def _identifier(obj: griffe.Object, target: str) -> str:
    """The full path ``target`` names, seen from ``obj``; the name itself when it cannot be resolved."""
    if "." in target and target.split(".")[0] == obj.package.name:
        return target
    try:
        return obj.resolve(target.split(".")[0]) + target[len(target.split(".")[0]):]
    except (griffe.NameResolutionError, ValueError):
        return target


def _link(obj: griffe.Object, match: re.Match[str]) -> str:
    body = match["body"].strip()
    explicit = _EXPLICIT_TITLE.match(body)
    if explicit:
        title, target = explicit["title"], explicit["target"]
    else:
        target = body.lstrip("~.")
        title = target.rsplit(".", 1)[-1] if body.startswith("~") else target
    return f'<autoref identifier="{_identifier(obj, target.lstrip("~."))}" optional><code>{title}</code></autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles into optional cross-references once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk every object of the package and rewrite the roles in its docstring."""
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, *, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(lambda match: _link(obj, match), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen=seen)  # type: ignore[arg-type]
