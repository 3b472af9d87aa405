"""Sequence to sequence: an encoder RNN reads the source, a decoder RNN writes the target, and
(optionally) attention lets every decoder step look back at every source position.

The model (Luong et al. 2015, with "input feeding"; B batch, S source and T target steps, E
embedding, H hidden size, L layers, K = 2 for a bidirectional encoder else 1)::

    encoder    k_1..k_S, finals = EncoderRNN(E_src[x_1..x_S])     k_j (K*H): top layer, both directions
    bridge     s_0^l = tanh(W_b [h_fwd^l; h_bwd^l] + b_b)          for each layer l, only when K = 2
               (LSTM: also c_0^l = W_bc [c_fwd^l; c_bwd^l] + b_bc; when K = 1, s_0 = finals)
    decoder    x_t  = [E_tgt[y_{t-1}]; h~_{t-1}]                   h~_0 = 0, y_0 = BOS
    step t     s_t  = DecoderCells(x_t, s_{t-1})                   s_t: the top layer's output
               c_t, a_t = attend(s_t; k_1..k_S)                    see zoo.models.attention
               h~_t = tanh(W_c [c_t; s_t] + b_c)
               logits_t = W_o h~_t + b_o

Without attention the decoder is Sutskever et al.'s (2014): ``x_t = E_tgt[y_{t-1}]`` and
``logits_t = W_o s_t + b_o``. Dropout (``config.dropout``) acts on both embeddings, between
stacked layers, and on ``h~_t`` before the output layer. ``tests/test_seq2seq.py`` transcribes
these lines in numpy.

Training feeds the true previous token y_{t-1} (teacher forcing), or with probability
``1 - teacher_forcing`` per sequence and step the model's own previous argmax (scheduled sampling,
Bengio et al. 2015). Decoding is greedy or by beam search with GNMT's length normalisation.

The file ends with the model put to use: ``Translator`` (model + vocabularies, saved in
checkpoints), attention heatmaps (``attention_svg``) and ``evaluate`` (exact match and loss on a
task's split).
"""
from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

import minigrad as mg
from minigrad import io
from minigrad.nn import Dropout, Embedding, Linear, Module
from minigrad.tensors import as_array
from zoo.tasks.seq2seq import Seq2SeqTask
from zoo.tasks.vocab import BOS, EOS, PAD, TokenVocab, vocab_from_dict
from zoo.train import evaluating
from zoo.unroll import masked_cross_entropy, sequence_mask

from .attention import ATTENTIONS, Memory, make_attention
from .common import CELLS, check_config, load_model, recurrent_layer

__all__ = [
    "Seq2SeqConfig", "Seq2Seq", "DecoderState", "Decoded", "Hypotheses", "length_penalty",
    "Translator", "AttentionMap", "attention_weights", "attention_svg", "batch_arrays", "evaluate",
]

KIND = "seq2seq"  # the run_config "kind" of a seq2seq checkpoint


@dataclass
class Seq2SeqConfig:
    """Sizes and choices of a ``Seq2Seq`` model (JSON-able: checkpoints rebuild the model from it)."""
    src_vocab_size: int
    tgt_vocab_size: int
    cell: str = "gru"               # "rnn" | "lstm" | "gru", for encoder and decoder
    embed_size: int = 32
    hidden_size: int = 128          # per direction in the encoder; the decoder's state size
    num_layers: int = 1             # in the encoder and in the decoder
    bidirectional: bool = True      # encoder only; its final states reach the decoder by the bridge
    attention: str = "additive"     # "additive" | "multiplicative" (Luong general) | "dot" | "none"
    attention_size: int | None = None  # additive attention's hidden size (default hidden_size)
    dropout: float = 0.0
    teacher_forcing: float = 1.0    # probability of feeding the true previous token in training
    forget_bias: float | None = None  # LSTM only; None: PyTorch's initialisation

    def __post_init__(self):
        sizes = ("src_vocab_size", "tgt_vocab_size", "embed_size", "hidden_size", "num_layers")
        check_config(self, sizes + (() if self.attention_size is None else ("attention_size",)),
                     {"cell": CELLS, "attention": ATTENTIONS})
        if self.tgt_vocab_size <= EOS:
            raise ValueError(f"Seq2SeqConfig: tgt_vocab_size must include PAD, BOS and EOS (ids 0-2), got "
                             f"{self.tgt_vocab_size}")
        if self.attention == "dot" and self.bidirectional:
            raise ValueError("Seq2SeqConfig: dot attention needs keys (2*hidden with a bidirectional encoder) "
                             "as large as the decoder state (hidden); use attention='multiplicative' or "
                             "bidirectional=False")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(f"Seq2SeqConfig: teacher_forcing must lie in [0, 1], got {self.teacher_forcing}")


class DecoderState(NamedTuple):
    """The decoder's recurrent state between steps, one row per sequence (or beam)."""
    layers: tuple             # per layer: h (N, H), or (h, c) for the LSTM
    feed: mg.Tensor | None    # h~_{t-1} (N, H), fed into the next step (None without attention)

    def select(self, rows: np.ndarray) -> "DecoderState":
        """The states of sequences ``rows`` (repeats allowed: beam search copies and reorders them)."""
        layers = tuple(tuple(s[rows] for s in st) if isinstance(st, tuple) else st[rows] for st in self.layers)
        return DecoderState(layers, None if self.feed is None else self.feed[rows])


class Decoded(NamedTuple):
    """A teacher-forced run of the decoder."""
    logits: mg.Tensor               # (B, T, V)
    attention: np.ndarray | None    # (B, T, S) weights a_t (zero on padding); None without attention


@dataclass
class Hypotheses:
    """Decoder outputs, one per source sentence.

    ``ids`` (B, T): tokens up to and including EOS (unless ``max_len`` cut the output short), PAD
    after. ``log_probs`` (B,): log P(output | source) under the model. ``lengths`` (B,): tokens
    including EOS. ``attention`` (B, T, S) or None: the weights behind each output token.
    """
    ids: np.ndarray
    log_probs: np.ndarray
    lengths: np.ndarray
    attention: np.ndarray | None

    def scores(self, alpha: float = 0.0) -> np.ndarray:
        """The length-normalised scores ``log_probs / length_penalty(lengths, alpha)``."""
        return self.log_probs / length_penalty(self.lengths, alpha)


def length_penalty(length, alpha: float) -> np.ndarray:
    """GNMT's ``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (Wu et al. 2016, eq. 14); 1 when alpha = 0.

    Beam search ranks hypotheses by ``log P(Y | X) / lp(Y)``: dividing by a penalty that grows
    with length counters the log-probability's bias toward short outputs.
    """
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


class Seq2Seq(Module):
    """Encoder-decoder with optional attention; see the module docstring for the equations.

    ``forward(src, src_lengths, tgt_in, targets=None) -> (logits (B, T, V), loss)``, batch-first,
    as ``Seq2SeqBatch`` holds them (``src``, ``src_lengths``, ``tgt_in``, ``tgt_out``); the loss
    is the mean cross-entropy over real target tokens (PAD targets do not count).
    ``teacher_force`` also returns the attention weights; ``greedy`` and ``beam_search`` decode.
    Parameter names follow PyTorch (``encoder.weight_ih_l0_reverse``, ``decoder.weight_hh_l1``).
    """

    def __init__(self, config: Seq2SeqConfig, *, dtype=None, generator=None):
        super().__init__()
        self.config = c = config
        H, E, K = c.hidden_size, c.embed_size, 2 if c.bidirectional else 1
        kw = dict(dtype=dtype, generator=generator)
        self.src_embed = Embedding(c.src_vocab_size, E, padding_idx=PAD, **kw)
        self.tgt_embed = Embedding(c.tgt_vocab_size, E, padding_idx=PAD, **kw)
        self.encoder = recurrent_layer(c.cell, E, H, c.num_layers, dropout=c.dropout, bidirectional=c.bidirectional,
                                       forget_bias=c.forget_bias, **kw)
        # the bridge (W_b, and W_bc for the LSTM's c) exists only for a bidirectional encoder
        self.bridge = Linear(2 * H, H, **kw) if c.bidirectional else None
        self.bridge_c = Linear(2 * H, H, **kw) if c.bidirectional and c.cell == "lstm" else None
        self.attention = make_attention(c.attention, H, K * H, c.attention_size, **kw)
        feed = 0 if self.attention is None else H
        # the decoder layer only holds the parameters (PyTorch's names); ``_cells`` steps them
        self.decoder = recurrent_layer(c.cell, E + feed, H, c.num_layers, forget_bias=c.forget_bias, **kw)
        self.combine = Linear(K * H + H, H, **kw) if self.attention is not None else None  # W_c
        self.out = Linear(H, c.tgt_vocab_size, **kw)
        self.drop = Dropout(c.dropout)

    # encoder ------------------------------------------------------------------------------------
    def encode(self, src, src_lengths) -> tuple[Memory | None, DecoderState]:
        """Read the source: the attention memory (None without attention) and the decoder's first state."""
        src, lengths = self._check_source(src, src_lengths)
        B, S = src.shape
        with mg.scope("encoder"):
            x = self.drop(self.src_embed(src))                        # (B, S, E)
            keys, finals = self.encoder(x, lengths=lengths)           # (B, S, K*H), (L*K, B, H)
            memory = None
            if self.attention is not None:
                memory = self.attention.prepare(keys, sequence_mask(lengths, S, batch_first=True))
            with mg.scope("bridge"):
                layers = self._bridge(finals, B)
        feed = None if self.attention is None else mg.zeros(B, self.config.hidden_size, dtype=keys.dtype)
        return memory, DecoderState(layers, feed)

    def _bridge(self, finals, B: int) -> tuple:
        """The encoder's final states (L*K, B, H) -> the decoder's initial state of each layer."""
        c = self.config
        L, H = c.num_layers, c.hidden_size
        h, cc = finals if isinstance(finals, tuple) else (finals, None)
        if c.bidirectional:
            def join(s):  # (L*2, B, H) -> (L, B, 2H): [forward; backward] final state of each layer
                return s.reshape(L, 2, B, H).permute(0, 2, 1, 3).reshape(L, B, 2 * H)
            h = self.bridge(join(h)).tanh()
            cc = None if cc is None else self.bridge_c(join(cc))
        if cc is None:
            return tuple(h[l] for l in range(L))
        return tuple((h[l], cc[l]) for l in range(L))

    # decoder ------------------------------------------------------------------------------------
    def _cells(self) -> list:
        """One cell per decoder layer, stepping with the decoder's parameters (shared, not copied)."""
        return [self.decoder.cell(l) for l in range(self.config.num_layers)]

    def _step(self, y_prev: np.ndarray, state: DecoderState, memory: Memory | None, cells: list):
        """One decoder step from the previous tokens (N,): ``(logits (N, V), new state, weights (N, S) or None)``."""
        x = self.drop(self.tgt_embed(y_prev))                         # (N, E)
        if self.attention is not None:
            x = mg.cat([x, state.feed], axis=-1)                      # x_t = [E y_{t-1}; h~_{t-1}]
        layers = []
        for l, cell in enumerate(cells):
            if l:
                x = self.drop(x)
            s = cell.step(x, state.layers[l])
            layers.append(s)
            x = cell.output(s)                                        # s_t of layer l
        weights = feed = None
        if self.attention is not None:
            context, weights = self.attention(x, memory)              # c_t (N, K*H), a_t (N, S)
            x = feed = self.combine(mg.cat([context, x], axis=-1)).tanh()  # h~_t
        return self.out(self.drop(x)), DecoderState(tuple(layers), feed), weights

    def teacher_force(self, src, src_lengths, tgt_in, *, ratio: float | None = None, generator=None) -> Decoded:
        """Run the decoder over ``tgt_in`` (B, T) (BOS y_1 .. y_n PAD ..).

        In training mode with ``ratio`` (default ``config.teacher_forcing``) below 1, each
        sequence's input at step t >= 1 is, with probability 1 - ratio, the model's own argmax at
        step t-1 instead of ``tgt_in[:, t]`` (coins from ``generator`` or minigrad's global one).
        In eval mode the true tokens are always fed.
        """
        tgt_in = _ids(tgt_in, "tgt_in")
        B, T = tgt_in.shape
        if B != len(src):
            raise ValueError(f"Seq2Seq: tgt_in has {B} rows but src has {len(src)}")
        memory, state = self.encode(src, src_lengths)
        ratio = self.config.teacher_forcing if ratio is None else ratio
        sampling = self.training and ratio < 1.0
        rng = mg.random.generator(generator)
        cells = self._cells()
        logits, weights = [], []
        y = tgt_in[:, 0]
        with mg.scope("decoder"):
            for t in range(T):
                with mg.scope(f"t={t}"):
                    step_logits, state, w = self._step(y, state, memory, cells)
                logits.append(step_logits)
                weights.append(w)
                if t + 1 < T:
                    y = tgt_in[:, t + 1]
                    if sampling:
                        own = rng.random(B) >= ratio
                        y = np.where(own, step_logits.data.argmax(axis=-1), y)
        attention = None if memory is None else np.stack([w.data for w in weights], axis=1)
        return Decoded(mg.stack(logits, axis=1), attention)

    def forward(self, src, src_lengths, tgt_in, targets=None, *, generator=None):
        """``(logits (B, T, V), loss)``; loss is None without ``targets`` (B, T) (PAD where nothing counts)."""
        logits = self.teacher_force(src, src_lengths, tgt_in, generator=generator).logits
        if targets is None:
            return logits, None
        targets = _ids(targets, "targets")
        if targets.shape != logits.shape[:2]:
            raise ValueError(f"Seq2Seq: targets of shape {targets.shape} for tgt_in of shape {logits.shape[:2]}")
        return logits, masked_cross_entropy(logits, targets, ignore_index=PAD, batch_first=True)

    # decoding -----------------------------------------------------------------------------------
    @mg.no_grad()
    def greedy(self, src, src_lengths, max_len: int | None = None) -> Hypotheses:
        """Feed back the most likely token until each sequence emits EOS or ``max_len`` tokens
        (default 2 S + 10). Batched; runs in the current mode (call ``eval()`` first)."""
        src, lengths = self._check_source(src, src_lengths)
        B, S = src.shape
        max_len = _max_len(max_len, S)
        memory, state = self.encode(src, lengths)
        cells = self._cells()
        ids = np.full((B, max_len), PAD, dtype=np.int64)
        log_probs, out_lengths = np.zeros(B), np.zeros(B, dtype=np.int64)
        attention = None if memory is None else np.zeros((B, max_len, S))
        done = np.zeros(B, dtype=bool)
        y = np.full(B, BOS, dtype=np.int64)
        for t in range(max_len):
            logits, state, w = self._step(y, state, memory, cells)
            logp = logits.log_softmax(axis=-1).data.astype(np.float64)
            y = logp.argmax(axis=-1)
            live = ~done
            ids[live, t] = y[live]
            log_probs[live] += logp[live, y[live]]
            out_lengths[live] += 1
            if attention is not None:
                attention[live, t] = w.data[live]
            done |= y == EOS
            if done.all():
                break
        return _trim(ids, log_probs, out_lengths, attention)

    @mg.no_grad()
    def beam_search(self, src, src_lengths, beam: int = 4, *, alpha: float = 0.6, max_len: int | None = None,
                    keep_greedy: bool = True) -> Hypotheses:
        """The highest-scoring output found by a beam of ``beam`` hypotheses per source.

        Each step extends every live hypothesis by every token and keeps the ``beam`` best by
        log-probability; one that ends in EOS is finished and stops growing. A source is done when
        its best candidate of a step ends in EOS, or after ``max_len`` tokens (default 2 S + 10;
        then the live hypotheses count as finished). The answer is the finished hypothesis with
        the highest ``log P / length_penalty(len, alpha)``; with ``beam=1`` this is greedy decoding.

        Beam search is not monotone in the width: pruning can drop the greedy path, whose
        completion may then beat every survivor. ``keep_greedy`` adds the greedy output to the
        candidates (at a 1/beam of the search's cost), so the answer never scores below greedy's.
        """
        if not isinstance(beam, (int, np.integer)) or beam < 1:
            raise ValueError(f"beam_search: beam must be a positive integer, got {beam!r}")
        if alpha < 0:
            raise ValueError(f"beam_search: alpha must be >= 0, got {alpha}")
        src, lengths = self._check_source(src, src_lengths)
        B, S = src.shape
        K, V = int(beam), self.config.tgt_vocab_size
        max_len = _max_len(max_len, S)
        memory, state = self.encode(src, lengths)
        rows = np.repeat(np.arange(B), K)                     # K copies of each source, beams adjacent
        memory = None if memory is None else memory.select(rows)
        state = state.select(rows)
        cells = self._cells()
        score = np.full((B, K), -np.inf)
        score[:, 0] = 0.0                                     # one live hypothesis to start: BOS
        tokens = np.zeros((B, K, 0), dtype=np.int64)
        attn = np.zeros((B, K, 0, S))
        best: list = [None] * B                               # (normalised score, log P, tokens, attention)
        done = np.zeros(B, dtype=bool)
        b = np.arange(B)[:, None]
        y = np.full(B * K, BOS, dtype=np.int64)
        for t in range(max_len):
            logits, state, w = self._step(y, state, memory, cells)
            logp = logits.log_softmax(axis=-1).data.astype(np.float64).reshape(B, K, V)
            candidates = (score[:, :, None] + logp).reshape(B, K * V)
            top = np.argsort(-candidates, axis=1, kind="stable")[:, :K]   # (B, K), best first
            score = np.take_along_axis(candidates, top, axis=1)
            parent, token = top // V, top % V
            tokens = np.concatenate([tokens[b, parent], token[:, :, None]], axis=2)
            if memory is not None:
                attn = np.concatenate([attn[b, parent], w.data.reshape(B, K, S)[b, parent][:, :, None]], axis=2)
            score[done] = -np.inf
            ended = (token == EOS) & np.isfinite(score)
            for i, k in zip(*np.nonzero(ended)):
                _offer(best, i, score[i, k], tokens[i, k], attn[i, k] if memory is not None else None, alpha)
            done |= ended[:, 0] | ~np.isfinite(score).any(axis=1)
            score[ended] = -np.inf                             # finished: no longer extended
            if done.all():
                break
            y = token.reshape(-1)
            state = state.select((b * K + parent).reshape(-1))
        for i, k in zip(*np.nonzero(np.isfinite(score) & ~done[:, None])):  # cut short by max_len
            _offer(best, i, score[i, k], tokens[i, k], attn[i, k] if memory is not None else None, alpha)
        if keep_greedy:
            g = self.greedy(src, lengths, max_len)
            for i in range(B):
                n = g.lengths[i]
                _offer(best, i, g.log_probs[i], g.ids[i, :n], None if g.attention is None else g.attention[i, :n],
                       alpha)
        return _collect(best, S, memory is not None)

    # checks -------------------------------------------------------------------------------------
    def _check_source(self, src, src_lengths) -> tuple[np.ndarray, np.ndarray]:
        src = _ids(src, "src")
        lengths = as_array(src_lengths)
        if lengths.shape != src.shape[:1] or (lengths.size and lengths.dtype.kind not in "iu"):
            raise ValueError(f"Seq2Seq: src_lengths must be {src.shape[0]} integers (one per source row), got "
                             f"shape {lengths.shape} dtype {lengths.dtype}")
        if lengths.size and (lengths.min() < 1 or lengths.max() > src.shape[1]):
            raise ValueError(f"Seq2Seq: src_lengths must lie in [1, {src.shape[1]}] (every source needs a "
                             f"token), got {lengths.tolist()}")
        return src, lengths.astype(np.int64)


def _ids(x, name: str) -> np.ndarray:
    arr = as_array(x)
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise ValueError(f"Seq2Seq: {name} must be a (B, T) array of integer token ids, got shape {arr.shape} "
                         f"dtype {arr.dtype}")
    return arr


def _max_len(max_len: int | None, S: int) -> int:
    if max_len is None:
        return 2 * S + 10
    if not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    return int(max_len)


def _offer(best: list, i: int, log_prob: float, tokens: np.ndarray, attention, alpha: float) -> None:
    """Keep hypothesis ``tokens`` for source ``i`` if it scores higher than the best so far."""
    score = log_prob / float(length_penalty(len(tokens), alpha))
    if best[i] is None or score > best[i][0]:
        best[i] = (score, float(log_prob), np.array(tokens), None if attention is None else np.array(attention))


def _collect(best: list, S: int, with_attention: bool) -> Hypotheses:
    """One ``Hypotheses`` from each source's best (score, log P, tokens, attention)."""
    lengths = np.array([len(h[2]) for h in best], dtype=np.int64)
    T = int(lengths.max(initial=1))
    ids = np.full((len(best), T), PAD, dtype=np.int64)
    attention = np.zeros((len(best), T, S)) if with_attention else None
    for i, (_, _, toks, att) in enumerate(best):
        ids[i, :len(toks)] = toks
        if with_attention:
            attention[i, :len(toks)] = att
    return Hypotheses(ids, np.array([h[1] for h in best]), lengths, attention)


def _trim(ids, log_probs, lengths, attention) -> Hypotheses:
    T = int(lengths.max(initial=1))
    return Hypotheses(ids[:, :T], log_probs, lengths, None if attention is None else attention[:, :T])


# ------------------------------------------------------------------------------------------------
# translating text: the model with its vocabularies


class AttentionMap(NamedTuple):
    """Where the decoder looked: ``weights[i, j]`` is output token i's weight on source token j."""
    weights: np.ndarray        # (T_out, S), rows sum to 1
    source: list               # S source tokens
    output: list               # T_out output tokens ("<eos>" last when the output ended)


@dataclass
class Translator:
    """A trained ``Seq2Seq`` with the vocabularies it reads and writes, and a decoding limit.

    ``translator(["3 March 1999"]) -> ["1999-03-03"]``; ``save``/``load`` keep everything in one
    checkpoint, from which ``minigrad translate`` works alone.
    """
    model: Seq2Seq
    src_vocab: TokenVocab
    tgt_vocab: TokenVocab
    max_len: int

    @classmethod
    def from_task(cls, model: Seq2Seq, task: Seq2SeqTask) -> "Translator":
        """``model`` with the task's vocabularies, decoding at most its longest target."""
        return cls(model, task.src_vocab, task.tgt_vocab, task.max_target_length)

    def decode(self, texts: Sequence[str], beam: int = 1, alpha: float = 0.6) -> Hypotheses:
        """Greedy (``beam=1``) or beam-search outputs for ``texts``, in eval mode."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        for t in texts:
            if not isinstance(t, str) or not self.src_vocab.tokenize(t):
                raise ValueError(f"cannot translate {t!r}: sources must be non-empty strings")
        src = self.src_vocab.encode_batch(texts)
        with evaluating(self.model):
            if beam == 1:
                return self.model.greedy(src.ids, src.lengths, self.max_len)
            return self.model.beam_search(src.ids, src.lengths, beam, alpha=alpha, max_len=self.max_len)

    def __call__(self, texts: Sequence[str], beam: int = 1, alpha: float = 0.6, batch_size: int = 500) -> list:
        """The translations of ``texts`` (decoded ``batch_size`` at a time)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = []
        for i in range(0, len(texts), batch_size):
            out += self.tgt_vocab.decode_batch(self.decode(texts[i:i + batch_size], beam, alpha).ids)
        return out

    def attention(self, text: str, beam: int = 1, alpha: float = 0.6) -> AttentionMap:
        """The attention weights behind the translation of one ``text``."""
        if self.model.attention is None:
            raise ValueError("this model has no attention (it was trained with attention='none')")
        hyp = self.decode([text], beam, alpha)
        n = int(hyp.lengths[0])
        names = self.tgt_vocab.itos
        return AttentionMap(hyp.attention[0, :n], self.src_vocab.tokenize(text),
                            [names[i] for i in hyp.ids[0, :n]])

    def run_config(self, **extra) -> dict:
        """What a checkpoint needs to rebuild this translator (plus ``extra`` facts about the run)."""
        return {"kind": KIND, "model": dataclasses.asdict(self.model.config),
                "src_vocab": self.src_vocab.to_dict(), "tgt_vocab": self.tgt_vocab.to_dict(),
                "max_len": int(self.max_len), **extra}

    def save(self, path, **extra) -> None:
        """Write the model and its run config to ``path`` (atomically; a ``minigrad.io`` checkpoint)."""
        io.save_checkpoint(path, model=self.model, config=self.run_config(**extra))

    @classmethod
    def load(cls, path) -> "Translator":
        """The translator in a checkpoint written by ``save`` or by ``train seq2seq``'s trainer."""
        model, config = load_model(path, KIND, Seq2SeqConfig, Seq2Seq)
        model.eval()
        return cls(model, vocab_from_dict(config["src_vocab"]), vocab_from_dict(config["tgt_vocab"]),
                   int(config["max_len"]))


def attention_weights(model: Seq2Seq, task, src_text: str, beam: int = 1) -> AttentionMap:
    """The attention map of ``model`` translating ``src_text`` (``task`` supplies the vocabularies)."""
    return Translator.from_task(model, task).attention(src_text, beam)


def attention_svg(amap: AttentionMap, title: str | None = None, cell: int = 22) -> str:
    """An SVG heatmap of ``amap``: source tokens across the top, output tokens down the left, darker
    where the weight is larger (written by hand: no plotting library needed)."""
    w = np.asarray(amap.weights, dtype=np.float64)
    T, S = w.shape
    left, top = 8 + 9 * max([len(_show_token(t)) for t in amap.output] + [1]), 40 + (20 if title else 0)
    width, height = left + S * cell + 10, top + T * cell + 10
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="13">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        parts.append(f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{esc(title)}</text>')
    for j, tok in enumerate(amap.source):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.0f}" y="{top - 8}" text-anchor="middle">{esc(_show_token(tok))}</text>')
    for i, tok in enumerate(amap.output):
        y = top + i * cell + cell / 2 + 4
        parts.append(f'<text x="{left - 6}" y="{y:.0f}" text-anchor="end">{esc(_show_token(tok))}</text>')
        for j in range(S):
            shade = int(round(255 * (1 - min(max(w[i, j], 0.0), 1.0))))
            parts.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                         f'fill="rgb({shade},{shade},255)"><title>{w[i, j]:.3f}</title></rect>')
    parts.append(f'<rect x="{left}" y="{top}" width="{S * cell}" height="{T * cell}" fill="none" stroke="#888"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _show_token(tok: str) -> str:
    return "\u2423" if tok == " " else tok  # OPEN BOX: a visible space


# ------------------------------------------------------------------------------------------------
# measuring


def batch_arrays(batch) -> tuple:
    """A ``Seq2SeqBatch`` as ``model(...)`` arguments: (src, src_lengths, tgt_in, tgt_out)."""
    return batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out


def evaluate(translator: Translator, task: Seq2SeqTask, split: str = "test", beam: int = 1,
             alpha: float = 0.6) -> dict:
    """Exact-match accuracy (``exact_match``, or ``exact_match_beam{beam}``) and the mean per-token
    teacher-forced ``loss`` on a split of ``task``."""
    key = "exact_match" if beam == 1 else f"exact_match_beam{beam}"
    metrics = {key: task.evaluate(lambda sources: translator(sources, beam, alpha), split)}
    total, count = 0.0, 0
    with evaluating(translator.model):
        for batch in task.batches(500, split=split):
            _, loss = translator.model(*batch_arrays(batch))
            n = int(batch.tgt_mask.sum())
            total, count = total + float(loss.data) * n, count + n
    metrics["loss"] = total / count
    return metrics
