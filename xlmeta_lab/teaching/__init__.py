"""What the notebooks need beyond the computation: the derivation's oracles (``derivation``, ``quadratic``),
``plots`` and ``reports`` (results into figures and sentences), the toy explorer (``widgets``), notebook
start-up, ``profiles`` and their measured run times (``timings``; ``runtime_docs`` writes them into the README
and the notebooks), the workbook runner, student copies, the HTML copy (``static_site``), and ``exercises`` with
their checks."""
