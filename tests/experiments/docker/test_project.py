"""Compose command lines and project names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.docker.project import ComposeProject, check_project_name


class TestComposeProject:
    def test_argv_names_project_and_file(self) -> None:
        """Every command carries the project name and the file (v1 has no top-level name)."""
        project = ComposeProject(name="t1", file=Path("/x/c.yml"), command=("docker-compose",))
        expected = ["docker-compose", "--project-name", "t1", "--file", "/x/c.yml", "ps"]

        actual = project.argv("ps")

        assert expected == actual

    def test_v2_prefix(self) -> None:
        """The v2 plugin's two-word prefix is kept whole."""
        project = ComposeProject(name="t2", file=Path("c.yml"), command=("docker", "compose"))
        expected = ["docker", "compose", "--project-name", "t2", "--file", "c.yml", "up"]

        actual = project.argv("up")

        assert expected == actual


class TestCheckProjectName:
    @settings(max_examples=30)
    @given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True))
    def test_accepts_compose_names(self, name: str) -> None:
        """Lower-case letters, digits, '-' and '_' after a letter or digit are accepted."""
        expected = name

        actual = check_project_name(name)

        assert expected == actual

    @pytest.mark.parametrize("name", ["", "Upper", "-lead", "a.b", "a b"])
    def test_rejects_others(self, name: str) -> None:
        """Anything else is refused with a message naming the name."""
        with pytest.raises(ValueError, match="project name"):
            check_project_name(name)
