"""``chaoslab proxy serve``: config files are checked up front; a served config creates proxies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from experiments.cli import main
from proxy.server import EmbeddedToxiproxy, read_config, serve_forever


class TestServeCommand:
    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            (b"{not json", "bad request body: invalid character"),
            (b'[{"name": "a"}]', "missing required field: upstream at proxy 1"),
            (b'{"name": "a"}', "bad request body: json: cannot unmarshal object"),
        ],
    )
    def test_bad_config_is_one_line_and_exit_2(
        self, tmp_path: Path, content: bytes, problem: str
    ) -> None:
        """A config that is not a valid proxy list exits 2 naming the file and the problem."""
        config = tmp_path / "proxies.json"
        config.write_bytes(content)

        result = CliRunner().invoke(main, ["proxy", "serve", "--config", str(config)])

        assert 2 == result.exit_code
        assert str(config) in result.output
        assert problem in result.output

    def test_missing_config_is_exit_2(self, tmp_path: Path) -> None:
        """A config file that does not exist exits 2 naming it."""
        missing = tmp_path / "nope.json"

        result = CliRunner().invoke(main, ["proxy", "serve", "--config", str(missing)])

        assert 2 == result.exit_code
        assert "nope.json" in result.output


class TestServeForever:
    def test_loads_the_config_then_serves(self, tmp_path: Path) -> None:
        """Proxies of the config exist (toxics in it ignored) once the API answers."""
        config = tmp_path / "proxies.json"
        config.write_text(
            json.dumps(
                [
                    {
                        "name": "a",
                        "upstream": "127.0.0.1:9",
                        "listen": "127.0.0.1:0",
                        "toxics": [{"type": "latency"}],
                    }
                ]
            )
        )

        async def scenario() -> dict[str, dict[str, object]]:
            server = EmbeddedToxiproxy("127.0.0.1", 0, seed=1)
            task = asyncio.create_task(serve_forever(server, read_config(config)))
            try:
                for _ in range(200):
                    if server.registry.proxies():
                        break
                    await asyncio.sleep(0.05)
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"{server.url}/proxies") as response,
                ):
                    proxies: dict[str, dict[str, object]] = await response.json()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            return proxies

        proxies = asyncio.run(scenario())

        assert (["a"], []) == (list(proxies), proxies["a"]["toxics"])
