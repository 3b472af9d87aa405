"""The zoo's models: each a readable file with a config dataclass and one contract,
``forward(inputs..., targets=None) -> (output, loss)``.

=================  ===========================================================================
module             model
=================  ===========================================================================
``charlm``         ``CharLM``: character-level language model (sampling, bits per character)
``hello``          ``HelloRNN``: the classic 'hello' vanilla RNN, as tensors and as scalar Values
=================  ===========================================================================
"""
from .charlm import CharLM, CharLMConfig
from .hello import HelloConfig, HelloRNN, scalar_hello

__all__ = ["CharLM", "CharLMConfig", "HelloRNN", "HelloConfig", "scalar_hello"]
