"""The networks: the character-aware tagger trained from scratch, a Hugging Face encoder with a tag head,
and ``backbones``, which says what a tagger is made of (a fresh model, its encoder, its description)."""
