"""Figures, one function per picture, each returning its axes: ``protocol`` (accuracy against K, paired
differences, learning curves; the workbook's one colour per condition), ``derivation`` (01), ``transfer`` (05),
``engine`` (06). May import ``experiments`` and ``teaching.reports``; never ``cli``."""
