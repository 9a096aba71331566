"""Which parts of a project a template can see: the narrowest context a page may be keyed by.

A post or tag page is passed its project (and project view) for a few things: the project's
title and id. Keyed by the whole project, every page of a project would change whenever any
post is added. Instead, the template set of a page (the template and every template it
extends, includes or imports, found in the parsed source) is read once per build:
- `pv` never named: the page is rendered without it (it cannot depend on it);
- `project` named only as `project.<field>` for a field of the project header (never its
  posts, files or body) or as an argument of a `urls.<method>(...)` call: the page is given a
  ProjectHeader (those fields only) instead of the project.
The page therefore sees only what it is keyed by, whatever the analysis overlooked; any other
use (a dynamic template name, `{% set x = project %}`, `project.posts`, a filter) keeps the
whole value in the context and in the key, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from jinja2 import meta, nodes

from ..content.model import Project


@dataclass(frozen=True)
class ProjectHeader:
    """A project without its posts, files and body (what post and tag pages show of it)."""

    key: str
    id: str
    title: str
    summary: str
    status: str
    orgs: tuple[str, ...]
    members: tuple[str, ...]
    moderation: str
    visibility: str


HEADER_FIELDS = frozenset(ProjectHeader.__dataclass_fields__)


def header(project: Project) -> ProjectHeader:
    """The header of a project."""
    return ProjectHeader(project.key, project.id, project.title, project.summary, project.status,
                         project.orgs, project.members, project.moderation, project.visibility)


class Narrowing:
    """Per template: whether `pv` may be left out and `project` replaced by its header."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self._known: dict[str, tuple[bool, bool]] = {}

    def of(self, template: str) -> tuple[bool, bool]:
        """(drop pv, header for project) for a template (both False when unsure)."""
        found = self._known.get(template)
        if found is None:
            try:
                found = self._analyse(template)
            except Exception:  # noqa: BLE001 - unreadable or dynamic: keep the whole context
                found = (False, False)
            self._known[template] = found
        return found

    def _analyse(self, template: str) -> tuple[bool, bool]:
        todo, seen, asts = [template], set(), []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            source = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
            ast = self.env.parse(source)
            asts.append(ast)
            for ref in meta.find_referenced_templates(ast):
                if ref is None:
                    return (False, False)
                todo.append(ref)
        pv_named = project_ok = False
        project_ok = True
        for ast in asts:
            for node, parent in _walk(ast, None):
                if not isinstance(node, nodes.Name):
                    continue
                if node.name == "pv":
                    pv_named = True
                elif node.name == "project" and not _header_use(node, parent):
                    project_ok = False
        return (not pv_named, project_ok)


def _walk(node: nodes.Node, parent: nodes.Node | None):
    """Every node below `node` with its parent."""
    yield node, parent
    for child in node.iter_child_nodes():
        yield from _walk(child, node)


def _header_use(name: nodes.Name, parent: nodes.Node | None) -> bool:
    """`project.<header field>`, or `project` as a positional argument of `urls.<method>(...)`."""
    if isinstance(parent, nodes.Getattr) and parent.node is name:
        return parent.attr in HEADER_FIELDS
    if isinstance(parent, nodes.Call) and any(a is name for a in parent.args):
        func = parent.node
        return (isinstance(func, nodes.Getattr) and isinstance(func.node, nodes.Name)
                and func.node.name == "urls")
    return False
