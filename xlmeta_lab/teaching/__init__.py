"""What the notebooks need beyond the computation: the derivation's oracles (``derivation``, ``quadratic``),
``plots`` and ``reports`` (results into figures and sentences), the toy explorer (``widgets``), notebook
start-up and ``profiles``, the workbook runner and student copies, and ``exercises`` with their checks."""
