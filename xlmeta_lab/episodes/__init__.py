"""From sentences to meta-learning tasks: vocabularies, tensors, encoders and episode samplers.

``vocab`` (word and character inventories), ``tensors`` (a labelled set and how to stack, join and slice it),
``encoders`` (words and characters to ids), ``subwords`` (a pretrained tokenizer's pieces, one tag per word),
``samplers`` (support/query episodes with fixed shapes for vmap, and the protocol's K-shot draws), ``topics``
(N-way K-shot topic episodes), ``word_types`` (a set's words spelled once, so the tagger's character CNN reads
each spelling once).
"""
