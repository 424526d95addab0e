"""The claim-pair cross-encoder: the shipped delta loads, judges real pairs, and fails in one line."""

from __future__ import annotations

import numpy as np
import pytest

from crux.errors import StageError
from crux.pipeline import pair_model
from crux.pipeline.claim_links import ClaimLinksStage


def test_shipped_delta_is_small_and_loads():
    assert pair_model.MODEL_PATH.stat().st_size <= 5 * 1024 * 1024
    m = pair_model.load()
    assert m.name == "pairs-lora-1" and 0 < m.threshold < 1
    assert "CC BY-SA" in m.meta["license"]


def test_it_tells_an_attack_from_an_aside():
    m = pair_model.load()
    quote = "Forecasting platforms have no path to impact: decision-makers never read them."
    p = m.predict([quote, quote], [
        "This is simply false: the UK government's briefings cite Metaculus forecasts every week.",
        "I had pasta for lunch before writing this section.",
    ])
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert 1 - p[0, 0] > 1 - p[1, 0]          # the rebuttal is likelier a link than the aside
    assert p[0, 1] > p[0, 2]                   # and an attack, not a support
    # (the aside itself is not reliably below the threshold: the model's precision is low,
    # EVALUATION.md "Claim-pair model"; that is why the stage does not use it by default)


@pytest.mark.parametrize("content", [b"", b"not a zip", None])
def test_a_missing_or_corrupt_delta_is_one_line_naming_the_rebuild(tmp_path, content):
    path = tmp_path / "pairs-lora-1.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(StageError) as e:
        pair_model.PairModel(path)
    assert "scripts/train_pair_model.py" in str(e.value) and "\n" not in str(e.value)


def test_the_stage_version_follows_the_model_file(monkeypatch):
    assert ClaimLinksStage().version.startswith("5+")  # the rules, by default
    monkeypatch.setenv("CRUX_CLAIM_PAIR_MODEL", "pairs-lora-1")
    assert ClaimLinksStage().version.startswith(f"6:{pair_model.load().digest}+")
