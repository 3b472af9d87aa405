"""rnnlab: the application on top of the library — the ``minigrad`` command (``cli``), ``make demo``
(``demo``), the long-range experiments (``experiments``), the ready-made pictures of
``minigrad render`` (``pictures``) and the training recipes (``recipes``).

It is the only code that imports both ``zoo`` (the recurrent models) and ``viz`` (the pictures);
``zoo`` and ``viz`` import only ``minigrad`` (``tests/test_layering.py`` checks every arrow).
Shared by the commands: ``flags`` (the flags and their checks), ``runs`` (a run's folder: a new
run never replaces another) and ``files`` (result files written atomically).
"""
