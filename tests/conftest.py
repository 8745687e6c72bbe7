"""Shared fixtures: one simulated cohort per test session (deterministic, seed 0)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from seqgx.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("cohort") / "cohort", seed=0)
