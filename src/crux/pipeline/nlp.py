"""Loading spaCy for the pipeline stages: once per process, offline, with a fallback.

:func:`sentence_pipeline` gives the smallest pipeline that splits sentences: the model's
``senter`` alone (about 14 times faster than its parser on LessWrong text, with the same
splits on 95% of paragraphs), else its parser, else spaCy's rule-based ``sentencizer``.
When the model package is not installed it logs one notice (once per process) and falls
back to ``spacy.blank("en")`` + ``sentencizer``.

:func:`splitter_id` names what :func:`sentence_pipeline` will use without importing spaCy;
the segment stage puts it in its version, so installing the model re-segments the corpus.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config
from ..errors import MissingExtra, StageError

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)

SENTENCIZER = "sentencizer"
# Components that sentence splitting never needs (their names across spaCy's pipelines).
_NOT_FOR_SENTENCES = (
    "tok2vec",
    "tagger",
    "morphologizer",
    "parser",
    "attribute_ruler",
    "lemmatizer",
    "trainable_lemmatizer",
    "ner",
    "entity_ruler",
    "span_ruler",
    "spancat",
    "entity_linker",
    "textcat",
    "textcat_multilabel",
    "transformer",
    "curated_transformer",
)

_cache: dict[str, Language] = {}
_noticed: set[str] = set()


def model_name(name: str | None = None) -> str:
    """The spaCy model to use: ``name``, else the ``spacy_model`` setting."""
    return str(name or config.get("spacy_model"))


def model_available(name: str) -> bool:
    """Whether ``name`` is an installed spaCy package or a model folder (spaCy is not imported)."""
    if Path(name).is_dir():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def splitter_id(name: str | None = None) -> str:
    """What splits sentences: the model name, or ``"sentencizer"`` when it is not installed."""
    name = model_name(name)
    return name if model_available(name) else SENTENCIZER


def sentence_pipeline(name: str | None = None, *, cached: bool = True) -> Language:
    """A spaCy pipeline that sets sentence boundaries and nothing else; cached per name.

    ``cached=False`` loads a new copy (its own vocabulary and tokenizer cache, as empty as a
    new process's) and leaves the cache alone: the benchmarks' reference.
    """
    name = model_name(name)
    if cached and name in _cache:
        return _cache[name]
    try:
        import spacy
    except ImportError:
        raise MissingExtra("Sentence splitting", "nlp", "spacy") from None
    nlp = None
    if model_available(name):
        try:
            nlp = _load_senter(spacy, name)
        except (OSError, ValueError, ImportError) as e:  # a broken or incompatible model
            _notice(name, f"could not be loaded ({str(e).strip().splitlines()[0][:200]})")
    else:
        _notice(name, "is not installed")
    if nlp is None:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
    if cached:
        _cache[name] = nlp
    return nlp


def analysis_pipeline(name: str | None = None, disable: tuple[str, ...] = ("ner",)) -> Language:
    """The full spaCy pipeline (tagger, parser, ...) the claim and forecast features read;
    the ``spacy_model`` setting's model, loaded once per process. No fallback: the features
    need the tagger and parser, so a missing model is a :class:`MissingExtra`."""
    name = model_name(name)
    key = f"analysis:{name}:{','.join(disable)}"
    if key in _cache:
        return _cache[key]
    try:
        import spacy
    except ImportError:
        raise MissingExtra("Claim and forecast extraction", "nlp", "spacy") from None
    try:
        nlp = spacy.load(name, disable=list(disable))
    except OSError:
        raise StageError(
            f"the spaCy model {name!r} (setting spacy_model) is not installed, and the "
            f"claim features need its tagger and parser: pip install {name.replace('_', '-')}, "
            "or set spacy_model to an installed model"
        ) from None
    _cache[key] = nlp
    return nlp


def _load_senter(spacy, name: str) -> Language:  # type: ignore[no-untyped-def]
    nlp = spacy.load(name, exclude=list(_NOT_FOR_SENTENCES))
    if "senter" in nlp.component_names:
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        return nlp
    # No senter: keep the parser (and the tok2vec it listens to).
    nlp = spacy.load(
        name, exclude=[c for c in _NOT_FOR_SENTENCES if c not in ("tok2vec", "parser")]
    )
    if "parser" not in nlp.pipe_names and "sentencizer" not in nlp.pipe_names:
        nlp.add_pipe("sentencizer")
    return nlp


def _notice(name: str, why: str) -> None:
    if name in _noticed:
        return
    _noticed.add(name)
    log.warning(
        "spaCy model %s %s; splitting sentences with spaCy's rule-based sentencizer "
        "(install it: pip install %s)",
        name,
        why,
        name.replace("_", "-"),
    )


__all__ = [
    "SENTENCIZER",
    "analysis_pipeline",
    "model_available",
    "model_name",
    "sentence_pipeline",
    "splitter_id",
]
