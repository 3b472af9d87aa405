"""Training recipes: for each of the zoo's models, the flags of ``minigrad train <model>`` (and of
``sample`` / ``translate``), their defaults, the task wiring, and the run that trains, resumes,
reports and writes results. The models themselves (``zoo.models``) know none of this.

=================  =====================================================================
module             commands
=================  =====================================================================
``charlm``         ``minigrad train charlm``, ``minigrad sample``
``hello``          ``minigrad train hello``
``seq2seq``        ``minigrad train seq2seq``, ``minigrad translate`` (and ``train_task``)
``classifier``     ``minigrad train classifier``, ``minigrad train tagger``
``conditioned``    ``minigrad train conditioned``
``forecaster``     ``minigrad train forecaster``
=================  =====================================================================
"""
