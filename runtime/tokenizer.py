"""The one tokenizer: training fits it, serving loads it. Pure Python + numpy, no TensorFlow.

It reproduces the seed notebook's Keras ``Tokenizer`` + ``pad_sequences`` semantics (lowercase, drop Keras'
filter punctuation, split on whitespace, PAD=0, OOV=1) so a model trained through it is served through the very
same code: there is no train/serve skew to test away, only golden vectors to keep it from drifting.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from edge_sentiment.runtime.errors import BundleError, InputError, InputTypeError

#: Keras' default ``Tokenizer(filters=...)``: these characters become word breaks.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
PAD_ID = 0
OOV_ID = 1
PAD_TOKEN = "<PAD>"
OOV_TOKEN = "<OOV>"
TOKENIZER_FORMAT = "edge-sentiment-tokenizer/1"


@dataclass(frozen=True)
class TokenizerConfig:
    """Everything that decides which ids a text becomes; stored next to the vocab and in the manifest."""

    vocab_size: int = 10_000  # ids 0..vocab_size-1: PAD, OOV, then the vocab_size-2 most frequent words
    max_len: int = 200  # every text becomes exactly this many ids; the seed's 150 cut most reviews short
    lowercase: bool = True  # seed: Tokenizer(lower=True)
    filters: str = KERAS_FILTERS  # characters replaced by a space before splitting
    strip_html_breaks: bool = True  # IMDB reviews carry literal "<br />" tags; the seed kept them as the word "br"
    padding: str = "pre"  # "pre" keeps the review next to the LSTM's final step; "post" is the seed's choice
    truncating: str = "post"  # "post" keeps a long review's opening, "pre" its ending
    pad_id: int = PAD_ID
    oov_id: int = OOV_ID

    def __post_init__(self) -> None:
        if self.padding not in ("pre", "post") or self.truncating not in ("pre", "post"):
            raise ValueError("padding and truncating must each be 'pre' or 'post'")
        if self.vocab_size < 3 or self.max_len < 1:
            raise ValueError("vocab_size must be >= 3 and max_len >= 1")


@dataclass
class Tokenizer:
    """Text -> fixed-length int32 ids. Fit once on training texts; save/load as plain JSON (never pickle)."""

    config: TokenizerConfig = field(default_factory=TokenizerConfig)
    words: list[str] = field(default_factory=list)  # words[i] has id i + 2

    def __post_init__(self) -> None:
        self._index = {w: i + 2 for i, w in enumerate(self.words)}
        self._table = str.maketrans({c: " " for c in self.config.filters})
        # bytes.translate is ~6x faster than str.translate. With ASCII-only filters it is exactly equivalent on the
        # UTF-8 encoding: an ASCII byte never occurs inside a multi-byte UTF-8 sequence.
        filters = self.config.filters
        self._byte_table = (bytes.maketrans(filters.encode(), b" " * len(filters)) if filters.isascii() else None)

    # ---- fitting -------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Iterable[str], config: TokenizerConfig | None = None) -> Tokenizer:
        """Keep the ``vocab_size - 2`` most frequent words; ties break alphabetically, so input order never matters."""
        config = config or TokenizerConfig()
        counts: Counter[str] = Counter()
        probe = cls(config)
        for text in texts:
            counts.update(probe.split(text))
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(config, [w for w, _ in ranked[: config.vocab_size - 2]])

    # ---- text -> ids ---------------------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Normalise and split one text into words, like Keras' ``text_to_word_sequence`` (which splits on " " only;
        this also splits on other whitespace such as \\r or a no-break space, in training and serving alike)."""
        if self.config.strip_html_breaks and "<br" in text:
            text = text.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ")
        if self.config.lowercase:
            text = text.lower()
        if self._byte_table is not None:
            raw = text.encode("utf-8", "surrogatepass").translate(self._byte_table)
            return raw.decode("utf-8", "surrogatepass").split()
        return text.translate(self._table).split()

    def encode(self, text: str) -> np.ndarray:
        """One text -> int32 array of shape (max_len,). Errors say "text", not "item 0"."""
        out = np.full(self.config.max_len, self.config.pad_id, dtype=np.int32)
        self._fill(out, text, None)
        return out

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> int32 array (len(texts), max_len). Raises InputError naming the first bad item."""
        out = np.full((len(texts), self.config.max_len), self.config.pad_id, dtype=np.int32)
        for row, text in enumerate(texts):
            self._fill(out[row], text, row)
        return out

    def _fill(self, out: np.ndarray, text: str, index: int | None) -> None:
        """Write one text's padded ids into ``out`` (a row of max_len), or raise InputError naming the item."""
        cfg = self.config
        check_text(text, index)
        seq = list(map(self._index.get, self._bounded_split(text), repeat(OOV_ID)))
        if not seq:  # "!!!": the model would see only padding and answer its bias
            where = "text" if index is None else f"item {index}"
            raise InputError(f"{where} has no words (only punctuation): there is nothing to classify", index)
        if len(seq) > cfg.max_len:
            seq = seq[: cfg.max_len] if cfg.truncating == "post" else seq[-cfg.max_len :]
        if cfg.padding == "post":
            out[: len(seq)] = seq
        else:
            out[cfg.max_len - len(seq) :] = seq

    def _bounded_split(self, text: str) -> list[str]:
        """Split only as much of a huge text as can reach the output, so a 10 MB text costs microseconds."""
        budget = 64 * self.config.max_len  # generous: words average < 10 chars, separators included
        if len(text) <= 2 * budget:
            return self.split(text)
        if self.config.truncating == "post":
            head = text[:budget]
            cut = max(head.rfind(" "), head.rfind("\n"))  # never split a word in two at the cut
            words = self.split(head[: cut if cut > 0 else budget])
            if len(words) > self.config.max_len:  # strictly more: the word at the cut is never needed
                return words
        else:
            tail = text[-budget:]
            cut = min((i for i in (tail.find(" "), tail.find("\n")) if i >= 0), default=-1)
            words = self.split(tail[cut + 1 if cut >= 0 else 0 :])
            if len(words) > self.config.max_len:
                return words
        return self.split(text)  # mostly whitespace or filter characters: do the full split

    # ---- persistence ---------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {"format": TOKENIZER_FORMAT, "config": asdict(self.config), "words": self.words}, ensure_ascii=False
        )

    def save(self, path: str | Path) -> Path:
        from edge_sentiment.runtime.atomic import atomic_write_text

        return atomic_write_text(Path(path), self.to_json())

    @classmethod
    def from_json(cls, text: str, source: str = "tokenizer.json") -> Tokenizer:
        try:
            data = json.loads(text)
            if data.get("format") != TOKENIZER_FORMAT:
                raise BundleError(f"{source}: format {data.get('format')!r}, expected {TOKENIZER_FORMAT!r}")
            config = TokenizerConfig(**data["config"])
            words = data["words"]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BundleError(f"{source} is not a valid tokenizer file ({exc}); re-run `edge-sentiment train`") from exc
        if not all(isinstance(w, str) for w in words) or len(words) > config.vocab_size - 2:
            raise BundleError(f"{source}: the word list does not fit vocab_size={config.vocab_size}")
        return cls(config, list(words))

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read tokenizer file {path}: {exc.strerror or exc}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BundleError(f"{path} is not UTF-8 text; the file is corrupt") from exc
        return cls.from_json(text, str(path))

    def vocab(self) -> list[str]:
        """The id -> token table, PAD and OOV included."""
        return [PAD_TOKEN, OOV_TOKEN, *self.words]


#: A text longer than this is refused rather than silently cut; tokenization itself only reads the needed part.
MAX_TEXT_CHARS = 10_000_000


def check_text(text: object, index: int | None = None) -> None:
    """Refuse anything that is not a usable string, naming the item so a batch error points at its row."""
    where = "text" if index is None else f"item {index}"
    if not isinstance(text, str):
        if isinstance(text, (bytes, bytearray)):
            raise InputTypeError(f"{where} is bytes, not str: decode it first (e.g. data.decode('utf-8'))", index)
        raise InputTypeError(f"{where} must be a str, got {type(text).__name__}", index)
    if not text or text.isspace():
        raise InputError(f"{where} is empty or whitespace only: there is nothing to classify", index)
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"{where} has {len(text):,} characters, above the {MAX_TEXT_CHARS:,} limit", index)
