"""The onnx-fp32, onnx-int8 and model2vec encoder paths of the packaged all-MiniLM-L6-v2, offline.

They are built from the packaged weights into the ``encoder_cache`` folder at first use (``make
install`` builds them, so this file takes seconds); the vectors are checked against fp32 torch.
"""

from __future__ import annotations

import numpy as np
import pytest

from crux import config
from crux.errors import UsageError
from crux.pipeline import embed, encoders

TEXTS = ["The cat sat on the mat.", "A cat was sitting on a rug.",
         "Interest rates rose sharply in the third quarter.",
         "I'd put 70% on transformative AI arriving before 2040, mostly because of compute trends.",
         "Short."]


@pytest.fixture(scope="module")
def fp32():
    return embed.encode(TEXTS)


@pytest.mark.parametrize(("path", "min_cosine"),
                         [("onnx-fp32", 0.99999), ("onnx-int8", 0.97), ("model2vec", 0.2)])
def test_path_encodes_unit_vectors_near_fp32(monkeypatch, fp32, path, min_cosine):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with config.using(encoder=path):
        assert embed.model_name() == f"all-MiniLM-L6-v2+{path}"
        v = embed.encode(TEXTS)
        again = embed.encode(TEXTS[::-1])[::-1]
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    cos = (v * fp32).sum(axis=1)
    assert cos.min() > min_cosine, cos  # int8 stays close; the static model only roughly
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1  # still a sentence space
    assert np.allclose(v, again, atol=0.02)  # order and company barely matter
    if path == "onnx-fp32":  # fp32: torch's vectors within 1e-6, and the same bits in any company
        assert np.abs(v - fp32).max() < 1e-6 and np.array_equal(v, again)
    if path != "model2vec":  # a text's vector is the text's alone, bit for bit (int8 included)
        with config.using(encoder=path):
            alone = np.vstack([embed.encode([t]) for t in TEXTS])
        assert np.array_equal(v, again) and np.array_equal(v, alone)


def test_paths_are_kept_apart_by_name():
    assert embed.model_name() == "all-MiniLM-L6-v2"  # fp32 is the default
    assert embed.model_name("all-MiniLM-L6-v2+onnx-int8") == "all-MiniLM-L6-v2+onnx-int8"
    assert embed.model_name("all-MiniLM-L6-v2+torch") == "all-MiniLM-L6-v2"
    with config.using(encoder="model2vec"):
        assert embed.model_name("all-MiniLM-L6-v2+onnx-int8") == "all-MiniLM-L6-v2+onnx-int8"
        assert embed.classifier_suffix() == "+model2vec"
        assert not embed.shares_classifier_encoder("all-MiniLM-L6-v2+torch")
        assert embed.shares_classifier_encoder()
        assert embed.model_name("some/other-model") == "some/other-model"


def test_bad_encoder_setting_is_one_line():
    with config.using(encoder="fp16"), pytest.raises(UsageError, match="use one of torch, onnx-fp32, onnx-int8, model2vec"):
        embed.model_name()
    with pytest.raises(UsageError, match="only the packaged"):
        embed.model_name("some/other-model+onnx-int8")
    assert encoders.cache_root().name == "encoders"
