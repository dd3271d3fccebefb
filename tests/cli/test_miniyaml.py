"""The YAML subset reader and writer (`homeport.cli.miniyaml`)."""

from __future__ import annotations

import pytest

from homeport.cli.miniyaml import YamlError, dump_scalar, dumps, loads

CONFIG = """\
# the user's configuration
---
api:
  base_url: "http://127.0.0.1:9000"   # a comment
  token: 'it''s'
  default_timeout: 12
  skip_ssl: true
  nothing: ~
mapping:
  feature/x: dev
list:
- a
- name: b
  scope: [app, 'web worker', {x: 1}]
-
  nested: yes
text: |
  first
  second
folded: >-
  one
  two
"""


def test_loads_block_structures() -> None:
    data = loads(CONFIG)
    assert data["api"] == {
        "base_url": "http://127.0.0.1:9000",
        "token": "it's",
        "default_timeout": 12,
        "skip_ssl": True,
        "nothing": None,
    }
    assert data["mapping"] == {"feature/x": "dev"}
    assert data["list"] == [
        "a",
        {"name": "b", "scope": ["app", "web worker", {"x": 1}]},
        {"nested": "yes"},
    ]
    assert data["text"] == "first\nsecond\n"
    assert data["folded"] == "one two"


def test_project_yaml_and_empty_documents() -> None:
    assert loads("id: abc123def456\n") == {"id": "abc123def456"}
    assert loads("") is None
    assert loads("# only a comment\n") is None


def test_bad_indentation_is_an_error() -> None:
    with pytest.raises(YamlError):
        loads("a:\n    b: 1\n  c: 2\n")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        ("plain text", "plain text"),
        ("", "''"),
        ("123", "'123'"),
        ("true", "'true'"),
        ("2015-04-01T09:00:00+00:00", "'2015-04-01T09:00:00+00:00'"),
        ("a: b", "'a: b'"),
        ("it's: x", "'it''s: x'"),
        ("two\nlines", '"two\\nlines"'),
    ],
)
def test_dump_scalar_quotes_when_needed(value: object, text: str) -> None:
    assert dump_scalar(value) == text


def test_dumps_round_trips() -> None:
    data = {"id": "x", "list": ["a", "b"], "nested": {"k": 1, "empty": []}, "none": None}
    text = dumps(data)
    assert text == "id: x\nlist:\n    - a\n    - b\nnested:\n    k: 1\n    empty: []\nnone: null\n"
    assert loads(text) == data
