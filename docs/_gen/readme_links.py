"""A MkDocs hook: the README's relative links must point at files that exist, and at headings the site has.

The README is not a page of the site (it links into docs/ as GitHub shows it), so MkDocs' own link validation does
not see it. After the build, each relative link is checked: the file must exist in the repository, and a link to a
docs page with an ``#anchor`` must name a heading of that page as built. A broken link is a warning, which
``mkdocs build --strict`` turns into a failure.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.readme_links")

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def on_post_build(config: Any, **kwargs: Any) -> None:
    """Check every relative link of README.md once the site is built."""
    root = Path(config.config_file_path).parent
    docs_dir = Path(config.docs_dir)
    site_dir = Path(config.site_dir)
    readme = root / "README.md"
    for match in _LINK.finditer(readme.read_text(encoding="utf-8")):
        target = match["target"]
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        if not (root / path).exists():
            log.warning("README.md links to %s, which does not exist", path)
            continue
        page = (root / path).resolve()
        if anchor and page.suffix == ".md" and page.is_relative_to(docs_dir.resolve()):
            relative = page.relative_to(docs_dir.resolve())
            built = site_dir / (relative.parent if relative.stem == "index" else relative.with_suffix("")) / "index.html"
            if f'id="{anchor}"' not in built.read_text(encoding="utf-8"):
                log.warning("README.md links to %s#%s, but that page has no such heading", path, anchor)
