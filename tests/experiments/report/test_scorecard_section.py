"""The report's CAP scorecard section: shown when results.json has a scorecard (the mode
named, UNSAFE when it is), absent for runs without one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.report import build_view, load_run
from experiments.report.html import render_html
from experiments.report.testing import SampleRuns

SIDE: dict[str, Any] = {"invoked": 40, "answered": 39, "yield": 0.975, "p50_ms": 1.2,
                        "p99_ms": 4.5, "reads": 10, "stale_reads": 3, "stale_rate": 0.3,
                        "worst_versions": 2, "worst_ms": 120.0, "lost_writes": 1,
                        "lost_updates": 2}
CARD: dict[str, Any] = {"format": 1, "consistency": "ap",
                        "sides": {"quiet": SIDE, "majority": SIDE, "minority": SIDE},
                        "lost_writes": 3, "lost_updates": 6, "strongest": "causal",
                        "models": {}, "anomalies": ["linearizable", "sequential"],
                        "converged": True, "convergence_s": 0.21}


class TestScorecardSection:
    def test_section_names_the_unsafe_mode_and_its_figures(self, samples: SampleRuns) -> None:
        """An ap scorecard: the mode marked UNSAFE, one row per side, the strongest model."""
        run = load_run(samples.passing)
        with_card = type(run)(run_dir=run.run_dir, experiment=run.experiment,
                              history=run.history, events=run.events,
                              results={**run.results, "scorecard": CARD})
        view = build_view(with_card)
        html = render_html(view)

        assert view.scorecard is not None
        assert ("ap (UNSAFE)", 3, "causal") == (view.scorecard.consistency,
                                               len(view.scorecard.rows),
                                               view.scorecard.strongest)
        assert "CAP scorecard: ap (UNSAFE)" in html
        assert "30.0% (3/10)" in html

    def test_no_scorecard_no_section(self, old_format: Path) -> None:
        """An older run without a scorecard renders without the section."""
        view = build_view(load_run(old_format))

        assert view.scorecard is None
        assert 'id="scorecard"' not in render_html(view)
