"""Results turned into the sentences the notebooks print: ``wording`` (the rules every sentence follows and the
sentences notebooks share), then one module per notebook's results (``udpos`` 03, ``topics`` 04, ``transfer``
05). May import ``experiments`` (never ``cli``); every number a sentence states comes from a results object."""
