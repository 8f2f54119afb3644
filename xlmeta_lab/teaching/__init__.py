"""What the notebooks need beyond the computation: the derivation's oracles, figures, the toy explorer,
notebook start-up and profiles, the workbook runner, and ``report``, which turns results into sentences."""
