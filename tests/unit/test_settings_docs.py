"""docs/settings.md documents every setting: its variable, its default and its choices."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import Settings, fields

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
ROW = re.compile(r"^\| `(?P<name>[A-Z0-9_]+)` \|(?P<default>[^|]*)\|(?P<choices>[^|]*)\|")


def _rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            assert match["name"] not in rows, f"{match['name']} is documented twice"
            rows[match["name"]] = (match["default"].strip(), match["choices"].strip())
    return rows


def test_every_setting_is_documented_and_nothing_else():
    variables = {field.variable for field in fields()}
    assert set(_rows()) == variables


def test_the_documented_defaults_and_choices_are_the_real_ones():
    rows = _rows()
    for field in fields():
        default, choices = rows[field.variable]
        if field.default is None:
            assert default == "unset" or default.startswith("`<"), field.variable
        else:
            assert default == f"`{field.default}`", field.variable
        if field.choices:
            assert choices == ", ".join(f"`{c}`" for c in field.choices), field.variable


def test_cuecast_home_holds_everything_local(monkeypatch, tmp_path):
    monkeypatch.delenv("CUECAST_STORAGE_DIR", raising=False)
    monkeypatch.setenv("CUECAST_HOME", str(tmp_path / "elsewhere"))
    assert Settings().storage_dir == str(tmp_path / "elsewhere" / "storage")
