"""The Markdown set-up is given its extensions as instances (no entry-point lookup): the very
set-up Python-Markdown builds from their names, processor for processor, output for output."""

from __future__ import annotations

import markdown
import pytest

from extranet.content import markup

RICH = """[TOC]

# Title *em* and `code`

## Second "quoted" -- dashed... <b>html</b>

| a | b |
|---|---|
| 1 | 2 |

Term
: definition

*[HTML]: Hyper Text

Text with a note[^1] and HTML.
line two

[^1]: The note.

```python
print("x")
```

<div markdown="1">*inside*</div>

A paragraph {: .klass }

1. one
2. two

* a
* b
"""


@pytest.mark.parametrize("more", [[], ["nl2br"], ["toc"], ["toc", "nl2br"]])
def test_extensions_are_those_python_markdown_builds_by_name(more: list[str]) -> None:
    named = markdown.Markdown(extensions=["extra", "sane_lists", "smarty", *more],
                              extension_configs={"smarty": {"smart_quotes": False}}, output_format="html")
    ours = markdown.Markdown(extensions=markup._extensions(more), output_format="html")
    for registry in ("preprocessors", "inlinePatterns", "treeprocessors", "postprocessors"):
        assert ([(i.name, i.priority) for i in getattr(ours, registry)._priority]
                == [(i.name, i.priority) for i in getattr(named, registry)._priority]), registry
    assert ([(i.name, i.priority) for i in ours.parser.blockprocessors._priority]
            == [(i.name, i.priority) for i in named.parser.blockprocessors._priority])
    assert ours.convert(RICH) == named.convert(RICH)
    assert "<table>" in ours.convert(RICH) and "footnote" in ours.convert(RICH)
