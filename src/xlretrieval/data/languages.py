"""Language codes in one place: the study names every language by its ISO 639-1 code; a source that
names its files otherwise (mMARCO: `german_collection.tsv`) is mapped here."""

from __future__ import annotations

# mMARCO v2 ("google" translations): ISO code -> the language name in its file names.
MMARCO = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "hi": "hindi",
    "id": "indonesian",
    "it": "italian",
    "ja": "japanese",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "vi": "vietnamese",
    "zh": "chinese",
}

# MIRACL v1.0 dev: the 16 languages released first and the two "surprise" languages (de, yo); its files use ISO codes.
MIRACL = ("ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh")


def mmarco_name(code: str) -> str:
    """The mMARCO file-name language of an ISO code (`de` -> `german`)."""
    try:
        return MMARCO[code]
    except KeyError:
        raise ValueError(f"mMARCO has no language '{code}' (it has {', '.join(sorted(MMARCO))})") from None
