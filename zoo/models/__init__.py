"""The zoo's models: each a readable file with a config dataclass and one contract,
``forward(inputs..., targets=None) -> (output, loss)``; ``Model(ModelConfig(**ckpt["config"]["model"]))``
rebuilds one from a checkpoint. Training them from the command line (flags, defaults, task
wiring) is the application's business: ``rnnlab.recipes``.

=================  ===========================================================================
module             models
=================  ===========================================================================
``charlm``         ``CharLM``: character-level language model (sampling, bits per character)
``hello``          ``HelloRNN``: the classic 'hello' vanilla RNN, as tensors and as scalar Values
``classifier``     ``SequenceClassifier`` (many-to-one) and ``SequenceTagger`` (synced many-to-many)
``conditioned``    ``ConditionedGenerator``: one-to-many, a feature vector sets and/or feeds the state
``seq2seq``        ``Seq2Seq`` with ``attention`` (additive, multiplicative, dot), beam search,
                   ``Translator``
``forecaster``     ``Forecaster``: time series, many-to-one and many-to-many
``common``         what they share: the recurrent layer by cell name, config checks, token
                   sampling, rebuilding a model from its checkpoint
=================  ===========================================================================
"""
from .charlm import CharLM, CharLMConfig
from .classifier import ClassifierConfig, SequenceClassifier, SequenceTagger, TaggerConfig
from .conditioned import ConditionedConfig, ConditionedGenerator
from .forecaster import Forecaster, ForecasterConfig
from .hello import HelloConfig, HelloRNN, scalar_hello
from .seq2seq import Seq2Seq, Seq2SeqConfig, Translator

__all__ = [
    "CharLM", "CharLMConfig", "HelloRNN", "HelloConfig", "scalar_hello",
    "SequenceClassifier", "ClassifierConfig", "SequenceTagger", "TaggerConfig",
    "ConditionedGenerator", "ConditionedConfig", "Seq2Seq", "Seq2SeqConfig", "Translator",
    "Forecaster", "ForecasterConfig",
]
