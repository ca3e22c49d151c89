"""Tokenizers built in memory for the random-weight presets.

Real checkpoints ship tokenizer files downloaded from a hub; presets have no network and ship no
vocabulary files, so they build small tokenizers here with the same *structure* as the real ones:

* CLIP: byte-level BPE. The vocabulary starts like OpenAI's (the 256 byte symbols, then the same
  256 with the ``</w>`` end-of-word suffix, in ``bytes_to_unicode`` order), adds whole-word merges
  for a short list of common prompt words, and ends with ``<|startoftext|>`` and
  ``<|endoftext|>`` as the two highest ids, as in the real 49408-token vocabulary. Every byte is in
  the vocabulary, so no input maps to an unknown token, and a text encoder with
  ``eos_token_id == 2`` (the legacy "argmax of the ids" pooling in SD 1.5/SDXL configs) pools at
  the end-of-text token just as with the real tokenizer.
* T5: a SentencePiece-style Unigram model with ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2,
  printable ASCII pieces with and without the ``▁`` word-start marker, whole-word pieces, and
  the 100 ``<extra_id_N>`` sentinels last, as in the real T5 vocabulary.

Both are ``transformers`` tokenizer objects, saved with ``save_pretrained`` and loaded back by the
class's ``from_pretrained``, like any downloaded tokenizer.
"""

from __future__ import annotations

from transformers import CLIPTokenizer, T5Tokenizer

CLIP_MAX_LENGTH = 77
"""Context length of every CLIP text encoder in the SD families."""

T5_MAX_LENGTH = 512
"""Longest T5 sequence the pipelines ask for (Flux: 512; SD3 defaults to 256)."""

T5_EXTRA_IDS = 100
"""Sentinel tokens ``<extra_id_0..99>``, as in the real T5 vocabulary."""

# Whole words that get their own token, so common prompts take a realistic number of tokens
# (about one per word, as with the real vocabularies) instead of one per character.
COMMON_WORDS = (
    "a an the of in on at with and or to by for from is are this that it as "
    "photo picture image painting drawing portrait landscape render illustration art style "
    "cat dog bird horse person man woman child car house tree flower mountain river sea sky "
    "city street forest beach sunset night day light dark red blue green yellow black white "
    "small large old new beautiful detailed high quality realistic cinematic lighting "
    "astronaut riding sitting standing holding wearing hat"
).split()


def _bytes_to_unicode() -> list[tuple[int, str]]:
    """OpenAI's reversible byte -> printable unicode map, in its original order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    pairs = [(b, chr(b)) for b in printable]
    extra = 0
    for b in range(256):
        if b not in printable:
            pairs.append((b, chr(256 + extra)))
            extra += 1
    return pairs


def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The small CLIP BPE vocabulary (token -> id) and its ordered merge rules."""
    symbols = [char for _, char in _bytes_to_unicode()]
    tokens = symbols + [s + "</w>" for s in symbols]
    known = set(tokens)
    merges: list[tuple[str, str]] = []
    for word in COMMON_WORDS:
        # Merge left to right: "cat" -> ("c","a"), ("ca","t</w>"); every prefix is a token.
        # Words are ASCII, so their byte-level symbols are the characters themselves.
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        left = pieces[0]
        for right in pieces[1:]:
            merged = left + right
            if merged not in known:
                merges.append((left, right))
                tokens.append(merged)
                known.add(merged)
            left = merged
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(tokens)}, merges


def build_clip_tokenizer(*, pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    """A CLIP tokenizer over the small in-memory vocabulary, with ``model_max_length`` 77.

    ``pad_token`` is ``<|endoftext|>`` for OpenAI CLIP-L; SDXL's OpenCLIP bigG tokenizer pads
    with ``"!"`` (id 0), which callers pass here.
    """
    vocab, merges = clip_vocab_and_merges()
    if pad_token not in vocab:
        raise ValueError(f"pad_token {pad_token!r} is not in the CLIP vocabulary")
    return CLIPTokenizer(
        vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=CLIP_MAX_LENGTH
    )


def t5_vocab() -> list[tuple[str, float]]:
    """The small T5 Unigram vocabulary as ``(piece, log-probability)`` pairs, in id order."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    chars = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    # Word pieces score higher than the sum of their characters, so Unigram prefers them.
    vocab += [("▁" + c, -4.0) for c in chars]
    vocab += [(c, -5.0) for c in chars]
    vocab += [("▁" + w, -3.0) for w in COMMON_WORDS if len(w) > 1]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(T5_EXTRA_IDS))]
    return vocab


def build_t5_tokenizer() -> T5Tokenizer:
    """A T5 tokenizer over the small in-memory vocabulary, with ``model_max_length`` 512."""
    return T5Tokenizer(vocab=t5_vocab(), extra_ids=T5_EXTRA_IDS, model_max_length=T5_MAX_LENGTH)


def clip_vocab_size() -> int:
    """Number of ids the small CLIP tokenizer can emit (text encoders must cover it)."""
    return len(clip_vocab_and_merges()[0])


def t5_vocab_size() -> int:
    """Number of ids the small T5 tokenizer can emit (text encoders must cover it)."""
    return len(t5_vocab())
