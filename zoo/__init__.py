"""The recurrent zoo: cells, sequence layers, models, tasks and the training loop (the command: rnnlab)."""
from . import sequence
from .bptt import GradientShares, TBPTTResult, detach_state, gradient_shares, truncated_bptt
from .cells import GRUCell, LSTMCell, RNNCell
from .fusing import fusion, unfused
from .layers import GRU, LSTM, RNN, StepStates
from .torch_bridge import to_torch
from .unroll import Unrolled, masked_cross_entropy, masked_mean, sequence_mask, unroll

__all__ = [
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "StepStates",
    "unroll", "Unrolled", "sequence_mask", "masked_mean", "masked_cross_entropy",
    "gradient_shares", "GradientShares", "truncated_bptt", "TBPTTResult", "detach_state",
    "fusion", "unfused", "to_torch",
]
