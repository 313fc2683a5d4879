"""Golden vectors for the one tokenizer shared by training and serving (Keras Tokenizer semantics)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_sentiment.runtime.errors import BundleError, InputError, InputTypeError
from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig

CORPUS = ["The movie was great, great fun!", "The plot<br />was thin. THE END", "Fun fun FUN"]
# counts: fun 4, the 3, great 2, was 2, end/movie/plot/thin 1 -> ties broken alphabetically, 6 words kept
GOLDEN_WORDS = ["fun", "the", "great", "was", "end", "movie"]


def tok(**overrides) -> Tokenizer:
    return Tokenizer.fit(CORPUS, TokenizerConfig(vocab_size=8, max_len=6, **overrides))


def test_vocab_is_frequency_ranked_with_alphabetical_ties():
    assert tok().words == GOLDEN_WORDS
    assert tok().vocab()[:3] == ["<PAD>", "<OOV>", "fun"]
    assert Tokenizer.fit(reversed(CORPUS), TokenizerConfig(vocab_size=8, max_len=6)).words == GOLDEN_WORDS


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("The plot was great!", {}, [0, 0, 3, 1, 5, 4]),  # pre-padding; 'plot' is OOV
        ("The plot was great!", {"padding": "post"}, [3, 1, 5, 4, 0, 0]),
        ("fun the great was end movie fun the", {}, [2, 3, 4, 5, 6, 7]),  # truncating post keeps the opening
        ("fun the great was end movie fun the", {"truncating": "pre"}, [4, 5, 6, 7, 2, 3]),
        ("great<br />fun", {}, [0, 0, 0, 0, 4, 2]),  # HTML breaks are word breaks, not the word 'br'
        ("great<br />fun", {"strip_html_breaks": False}, [0, 0, 0, 4, 6, 2]),  # "br" is then a word (id 6)
        ("GREAT\tfun\nTHE", {}, [0, 0, 0, 4, 2, 3]),  # lowercase; tab and newline split
        ("great...fun!!!(the)", {}, [0, 0, 0, 4, 2, 3]),  # Keras filter punctuation splits words
        ("don't", {}, [0, 0, 0, 0, 0, 1]),  # the apostrophe is not a Keras filter: one (unknown) word
        ("Café ÉTÉ 😀 great", {}, [0, 0, 1, 1, 1, 4]),
        ("مرحبا great שלום", {}, [0, 0, 0, 1, 4, 1]),  # RTL scripts are words like any other
        ("\x00great\x07 fun", {}, [0, 0, 0, 0, 1, 2]),  # control characters stay inside their word
    ],
)
def test_golden_ids(text, overrides, expected):
    ids = tok(**overrides).encode(text)
    assert ids.dtype == np.int32
    assert ids.tolist() == expected


def test_batch_equals_single_and_shape():
    t = tok()
    texts = ["fun", "the movie was great", "end of the plot"]
    batch = t.encode_batch(texts)
    assert batch.shape == (3, 6)
    for row, text in zip(batch, texts):
        assert row.tolist() == t.encode(text).tolist()


@pytest.mark.parametrize("truncating", ["post", "pre"])
def test_huge_text_reads_only_what_it_needs_but_gives_the_full_answer(truncating):
    t = tok(truncating=truncating)
    words = ["fun", "the", "great", "was", "end", "movie", "plot", "x" * 50]
    huge = " ".join(words[i % len(words)] + ("!" if i % 7 == 0 else "") for i in range(900_000))
    assert len(huge) > 5_000_000
    full = t.split(huge)
    expected = full[:6] if truncating == "post" else full[-6:]
    assert t.encode(huge).tolist() == [t._index.get(w, 1) for w in expected]


@pytest.mark.parametrize(
    ("bad", "error"),
    [("", InputError), ("   \n\t ", InputError), (None, InputTypeError), (42, InputTypeError),
     (b"great", InputTypeError), ("x" * 10_000_001, InputError), ("!?...", InputError), ("- -", InputError)],
)
def test_bad_inputs_are_refused_with_the_item_named(bad, error):
    with pytest.raises(error) as info:
        tok().encode_batch(["fun", bad])
    assert info.value.index == 1 and "item 1" in str(info.value)


def test_type_errors_are_also_typeerrors():
    with pytest.raises(TypeError):
        tok().encode(None)  # type: ignore[arg-type]


def test_save_load_roundtrip_is_plain_json(tmp_path):
    t = tok(padding="post")
    path = t.save(tmp_path / "tokenizer.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["words"] == GOLDEN_WORDS and data["config"]["padding"] == "post"
    again = Tokenizer.load(path)
    assert again.config == t.config and again.encode("the great end").tolist() == t.encode("the great end").tolist()


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe not utf8", b"{not json", b'{"format": "other/1", "config": {}, "words": []}',
     b'{"format": "edge-sentiment-tokenizer/1", "config": {"vocab_size": 3}, "words": ["a", "b", "c"]}',
     b'{"format": "edge-sentiment-tokenizer/1", "config": {"padding": "middle"}, "words": []}'],
)
def test_corrupt_tokenizer_files_are_refused(tmp_path, content):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(BundleError, match="tokenizer"):
        Tokenizer.load(path)


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(BundleError, match="cannot read"):
        Tokenizer.load(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "text",
    ["Plain ASCII, with: filters!", "Ünïcödé — “quotes” ½ 𝔘 \u3000 wide\u00a0space", "lone \ud800 surrogate",
     "emoji😀,joined", "tab\tnew\nline<br />break", "ΣΊΣΥΦΟΣ Straße İstanbul"],
)
def test_fast_byte_path_equals_the_plain_str_path(text):
    t = tok()
    reference = text.replace("<br />", " ").lower().translate(t._table).split()
    assert t.split(text) == reference
