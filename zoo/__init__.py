"""The recurrent zoo: cells, sequence layers, models, tasks, training loop and the `minigrad` command."""
from .cells import GRUCell, LSTMCell, RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]
