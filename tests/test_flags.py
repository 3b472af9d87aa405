"""rnnlab.flags: the flag groups, and every flag checked before any work with a message naming it."""
import argparse
import math

import pytest

from rnnlab.flags import (
    CLIError, Parser, add_model_arguments, add_training_arguments, check_flags, config_from_args, positive_int,
)


@pytest.mark.parametrize("text", ["0", "-3", "two"])
def test_positive_int_names_what_it_got(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected a positive integer, got .*{text}"):
        positive_int(text)
    assert positive_int("12") == 12


def test_model_flags_offer_embed_and_bidirectional_only_when_asked():
    plain = argparse.ArgumentParser()
    add_model_arguments(plain, cell="gru", hidden=32)
    args = plain.parse_args([])
    assert (args.cell, args.hidden, args.layers, args.batch_size, args.forget_bias) == ("gru", 32, 1, 64, 1.0)
    assert not {"--embed", "--bidirectional"} & set(plain._option_string_actions)
    full = argparse.ArgumentParser()
    add_model_arguments(full, embed=8, bidirectional=True)
    args = full.parse_args(["--bidirectional"])
    assert args.embed == 8 and args.bidirectional


def test_flags_without_checkpoints_are_not_offered(capsys):
    parser = argparse.ArgumentParser()
    add_training_arguments(parser, steps=7, checkpoints=False)
    assert not {"--resume", "--ckpt-every", "--log-every"} & set(parser._option_string_actions)
    config = config_from_args(parser.parse_args([]))
    assert config.steps == 7 and config.ckpt_every is None and config.log_every == 10
    with pytest.raises(SystemExit):
        parser.parse_args(["--resume"])
    assert "unrecognized arguments: --resume" in capsys.readouterr().err


def training_flags(argv):
    parser = Parser(prog="minigrad train test")
    add_training_arguments(parser)
    add_model_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv, message", [
    (["--steps", "-2"], "--steps must be >= 0"),
    (["--lr", "inf"], "--lr must be a positive finite number, got inf"),
    (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["--lr", "0"], "--lr must be a positive finite number"),
    (["--minutes", "0"], "--minutes must be positive"),
    (["--clip", "-1"], "--clip must be >= 0"),
    (["--clip", "inf"], "--clip must be >= 0"),
    (["--warmup", "-1"], "--warmup must be >= 0"),
    (["--eval-every", "-5"], "--eval-every must be >= 0"),
    (["--ckpt-every", "0"], "--ckpt-every must be a positive integer"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--dropout", "1"], "--dropout must be in [0, 1)"),
    (["--forget-bias", "nan"], "--forget-bias must be a finite number, got nan"),
])
def test_training_and_model_flags_out_of_range_name_the_flag(argv, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        config_from_args(training_flags(argv))


@pytest.mark.parametrize("dest, value, message", [
    ("sample_chars", -5, "--sample-chars must be >= 0, got -5"), ("temperature", math.inf, "--temperature"),
    ("top_k", 0, "--top-k must be a positive integer"), ("beam", 0, "--beam must be at least 1"),
    ("test_fraction", 1.5, "--test-fraction must be in (0, 1), got 1.5"), ("hidden", 0, "--hidden"),
])
def test_check_flags_covers_the_commands_own_flags(dest, value, message):
    with pytest.raises(ValueError) as e:
        check_flags(argparse.Namespace(**{dest: value}))
    assert message in str(e.value)


def test_defaults_pass_and_steps_zero_is_allowed():
    config = config_from_args(training_flags(["--steps", "0"]))
    assert config.steps == 0
    check_flags(argparse.Namespace(forget_bias=None, top_k=None, seed=None))  # None: not given


def test_resume_and_overwrite_exclude_each_other():
    with pytest.raises(CLIError, match="not allowed with argument --resume"):
        training_flags(["--resume", "--overwrite"])
