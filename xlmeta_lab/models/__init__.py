"""The networks: the character-aware tagger and sentence classifier trained from scratch, a Hugging Face encoder
with a tag head or a topic head, and ``backbones`` / ``topic_backbones``, which say what a model is made of (a
fresh model, its encoder, its description)."""
