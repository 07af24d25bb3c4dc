"""The questionnaire (copier.yml): validators refuse bad answers with a message; defaults derive."""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

import pytest
import yaml

from .renders import ROOT, copy_working_tree, render_snapshot

pytestmark = pytest.mark.tier1


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": ""}, "project_name must not be empty"),
        ({"project_name": "   "}, "project_name must not be empty"),
        ({"project_name": 'The "Rooms"'}, "must not contain double quotes, backslashes or control characters"),
        ({"project_name": "Back\\slash"}, "must not contain double quotes, backslashes or control characters"),
        ({"project_name": "Tab\there"}, "must not contain double quotes, backslashes or control characters"),
        ({"project_name": "R" * 49}, "keep it to 48"),
        ({"package_name": "r" * 41}, "keep it to 40"),
        ({"description": 'A "quoted" service.'}, "description must not contain double quotes"),
        ({"package_name": "2bad"}, "must be a lowercase Python identifier"),
        ({"package_name": "Rooms"}, "must be a lowercase Python identifier"),
        ({"package_name": "my-rooms"}, "must be a lowercase Python identifier"),
        ({"package_name": ""}, "must be a lowercase Python identifier"),
        ({"package_name": "class"}, "is a Python keyword"),
        ({"package_name": "json"}, "would shadow the standard-library module"),
        ({"package_name": "asyncio"}, "would shadow the standard-library module"),
        ({"package_name": "litestar"}, "would shadow a dependency"),
        ({"package_name": "pydantic_settings"}, "would shadow a dependency"),
        ({"package_name": "tests"}, "would shadow a dependency"),
        ({"author_email": "not an address"}, "is not an email address"),
        ({"interface_style": "unknown"}, "interface_style"),
        ({"transport_mode": "json"}, "transport_mode"),
        ({"python_version": "3.10"}, "python_version"),
    ],
)
def test_bad_answers_are_refused_with_a_message(tmp_path: Path, answers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_snapshot(tmp_path / "service", **answers)
    assert not (tmp_path / "service" / "pyproject.toml").exists()


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Rooms Service", "rooms_service"),
        ("My Chat-Rooms 2", "my_chat_rooms_2"),
        ("42 Live Feed!", "live_feed"),
        # A long name gives a package name cut to the 40 characters allowed, without a trailing "_".
        ("The Very Long Name Of A Rooms Service For Tests", "the_very_long_name_of_a_rooms_service_fo"),
    ],
)
def test_package_name_defaults_to_a_valid_identifier_from_project_name(
    tmp_path: Path, project_name: str, package_name: str
) -> None:
    project = render_snapshot(tmp_path / "service", project_name=project_name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == package_name
    assert (project / "src" / package_name / "app.py").is_file()


def test_answers_file_records_every_answer_and_the_template_commit(tmp_path: Path) -> None:
    copied = copy_working_tree(tmp_path / "service", skip_tasks=True, unsafe=False)
    answers = yaml.safe_load((copied / ".copier-answers.yml").read_text())
    questions = {
        name
        for name, spec in yaml.safe_load((ROOT / "copier.yml").read_text()).items()
        if not name.startswith("_") and spec.get("when") is not False
    }
    assert questions <= answers.keys()
    assert {"_commit", "_src_path"} <= answers.keys()
    assert not {"python_keywords", "stdlib_modules", "dependency_modules", "duplex", "token_auth"} & answers.keys()


def test_reserved_word_lists_match_this_python() -> None:
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    stdlib = set(config["stdlib_modules"]["default"].split())
    assert {name for name in sys.stdlib_module_names if name.islower() and not name.startswith("_")} <= stdlib
    assert {name for name in keyword.kwlist if name.islower()} == set(config["python_keywords"]["default"].split())


def test_every_question_is_in_the_readmes_table() -> None:
    questions = {
        name
        for name, question in yaml.safe_load((ROOT / "copier.yml").read_text()).items()
        if not name.startswith("_") and isinstance(question, dict) and question.get("when") is not False
    }
    table = (ROOT / "README.md").read_text().split("## The questions\n", 1)[1].split("\n## ", 1)[0]
    rows = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`(\w+)`", line.split("|")[1])
    }
    assert questions, "copier.yml asks questions"
    assert questions <= rows, f"questions missing from the README's table: {sorted(questions - rows)}"
