"""Adapting a model to a support set (``finetune``) and scoring it (``scoring``): the one path that training
(validation, ANIL's head) and the few-shot protocol both go through, so that evaluation never reaches into
training code. May import ``meta``, ``models``, ``episodes``, ``data`` and the base of ``experiments``."""
