"""Which parts of a project a template can see: the narrowest context a page may be keyed by.

A post or tag page is passed its project (and project view) for a few things: the project's
title and id. Keyed by the whole project, every page of a project would change whenever any
post is added. Instead, the template set of a page (the template and every template it
extends, includes or imports, found in the parsed source) is read once per build:
- `pv` never named: the page is rendered without it (it cannot depend on it);
- `project` named only as `project.<field>` for a field of the project header (never its
  posts, files or body) or as an argument of a `urls.<method>(...)` call: the page is given a
  ProjectHeader (those fields only) instead of the project.
- every `.pv` reaches only `.pv.project.<header field>` (a home page's project cards): the
  cards hold a CardView (the project header) instead of the project view, so that a home
  page changes only when what its cards show does (title, summary, status, count, last date).
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
class CardView:
    """What a home page's project card shows of a project view: its project's header."""

    project: "ProjectHeader"


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
        self._cards: dict[str, bool] = {}

    def cards(self, template: str) -> bool:
        """Whether the template set reads the project view of a card only as `.pv.project.<field>`."""
        found = self._cards.get(template)
        if found is None:
            try:
                found = all(_card_use(node, parents) for ast in self._asts(template)
                            for node, parents in _walk_up(ast, ()) if _names_pv(node))
            except Exception:  # noqa: BLE001 - unreadable or dynamic: keep the whole view
                found = False
            self._cards[template] = found
        return found

    def _asts(self, template: str) -> list[nodes.Template]:
        """The parsed template and every template it references (ValueError when dynamic)."""
        todo, seen, asts = [template], set(), []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            ast = self.env.parse(self.env.loader.get_source(self.env, name)[0])  # type: ignore[union-attr]
            asts.append(ast)
            for ref in meta.find_referenced_templates(ast):
                if ref is None:
                    raise ValueError("a template name computed at render time")
                todo.append(ref)
        return asts

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


def _walk_up(node: nodes.Node, parents: tuple):
    """Every node below `node` with its ancestors (nearest first)."""
    yield node, parents
    for child in node.iter_child_nodes():
        yield from _walk_up(child, (node,) + parents)


def _names_pv(node: nodes.Node) -> bool:
    """A node that may reach a card's `pv`: `.pv`, `['pv']`, or any string mentioning it
    (`attr('pv')`, `map(attribute='pv.…')`)."""
    if isinstance(node, nodes.Getattr):
        return node.attr == "pv"
    if isinstance(node, nodes.Const):
        return isinstance(node.value, str) and "pv" in node.value
    return False


def _card_use(node: nodes.Node, parents: tuple) -> bool:
    """`<card>.pv.project.<header field>` and nothing else."""
    if not isinstance(node, nodes.Getattr) or len(parents) < 2:
        return False
    up, top = parents[0], parents[1]
    return (isinstance(up, nodes.Getattr) and up.node is node and up.attr == "project"
            and isinstance(top, nodes.Getattr) and top.node is up and top.attr in HEADER_FIELDS)


def _header_use(name: nodes.Name, parent: nodes.Node | None) -> bool:
    """`project.<header field>`, or `project` as a positional argument of `urls.<method>(...)`."""
    if isinstance(parent, nodes.Getattr) and parent.node is name:
        return parent.attr in HEADER_FIELDS
    if isinstance(parent, nodes.Call) and any(a is name for a in parent.args):
        func = parent.node
        return (isinstance(func, nodes.Getattr) and isinstance(func.node, nodes.Name)
                and func.node.name == "urls")
    return False
