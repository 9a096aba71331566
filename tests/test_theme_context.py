"""The theme's Jinja2 context calls plain functions and macros straight away (render/theme.py):
every kind of call a template can make renders exactly as with Jinja2's own context."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from jinja2.runtime import Context

from extranet.render.theme import Theme, _Context

TEMPLATE = """\
{% macro card(x, y=2) %}[{{ x }}-{{ y }}{% if caller is defined %}:{{ caller() }}{% endif %}]{% endmacro %}
{% for i in items %}{{ f(i, k=loop.index) }} {{ card(i) }} {{ card(i, y=loop.cycle('a', 'b')) }}
{% call card(i) %}inner {{ i }}{% endcall %} {{ ctx_name() }} {{ env_flag() }} {{ eval_flag() }}
{{ obj.method(i) }} {{ '%s!'|format(i) }} {{ range(i)|list }} {{ dict(a=i) }} {{ ns_value() }}
{% endfor %}{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + f(i, k=1)|length %}{% endfor %}{{ ns.n }}
"""


class Obj:
    def method(self, i: int) -> str:
        return f"m{i}"


@jinja2.pass_context
def ctx_name(context) -> str:
    return f"ctx:{context.get('name')}:{type(context).__mro__[-2].__name__}"


@jinja2.pass_environment
def env_flag(environment) -> str:
    return f"env:{environment.autoescape}"


@jinja2.pass_eval_context
def eval_flag(eval_ctx) -> str:
    return f"eval:{eval_ctx.autoescape}"


def _render(env: jinja2.Environment) -> str:
    env.globals.update(ctx_name=ctx_name, env_flag=env_flag, eval_flag=eval_flag)
    return env.from_string(TEMPLATE).render(
        items=[1, 2, 3], name="<n>", obj=Obj(), f=lambda i, k: f"f{i}/{k}<b>", ns_value=len("xyz").__str__)


def test_theme_templates_call_everything_as_jinja_does(tmp_path: Path) -> None:
    theme = Theme(tmp_path, "default")
    assert theme.env.context_class is _Context
    stock = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
    assert stock.context_class is Context
    ours = _render(theme.env)
    assert ours == _render(stock)
    assert "ctx:&lt;n&gt;" in ours and "f1/1&lt;b&gt;" in ours and "[1-a]" in ours and ":inner 1]" in ours


def test_a_function_raising_stopiteration_is_undefined_as_with_jinja(tmp_path: Path) -> None:
    def stop() -> str:
        raise StopIteration

    theme = Theme(tmp_path, "default")
    with pytest.raises(jinja2.UndefinedError, match="StopIteration"):
        theme.env.from_string("{{ stop() }}").render(stop=stop)
    assert theme.env.from_string("{{ stop() is defined }}").render(stop=stop) == "False"
