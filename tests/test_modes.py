"""Engine modes are per thread and per asyncio task (grad mode, anomaly mode, keep_grads, scopes),
checked with real threads interleaved by events; anomaly mode names op, scope and time step in
both engines and at every fusion level."""
import asyncio
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad.modes import modes as current_modes
import zoo


def in_thread(fn, *events):
    """Run ``fn`` in a thread; returns (thread, result dict)."""
    out = {}

    def run():
        try:
            out["value"] = fn(*events)
        except BaseException as e:  # noqa: BLE001 (reported to the main thread)
            out["error"] = e
    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    entered, recorded = threading.Event(), threading.Event()

    def other(entered, recorded):
        with mg.no_grad():
            entered.set()
            recorded.wait(5)
            return mg.is_grad_enabled()

    thread, out = in_thread(other, entered, recorded)
    entered.wait(5)
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert mg.is_grad_enabled() and y.requires_grad
    y.backward()
    recorded.set()
    thread.join(5)
    assert out == {"value": False}
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a(a_in, b_in, a_out):
        with mg.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()
        return mg.is_grad_enabled()

    def b(a_in, b_in, a_out):
        a_in.wait(5)
        with mg.no_grad():
            b_in.set()
            a_out.wait(5)  # a leaves its block while b is still inside its own
            inside = mg.is_grad_enabled()
        return inside, mg.is_grad_enabled()

    ta, ra = in_thread(a, a_in, b_in, a_out)
    tb, rb = in_thread(b, a_in, b_in, a_out)
    ta.join(5)
    tb.join(5)
    assert ra == {"value": True} and rb == {"value": (False, True)}
    assert mg.is_grad_enabled()


def test_scopes_in_two_threads_do_not_mix():
    a_in, b_in = threading.Event(), threading.Event()

    def worker(name, mine, theirs):
        with mg.scope(name):
            mine.set()
            theirs.wait(5)
            t = mg.Tensor([1.0], requires_grad=True) * 2
            return t.scope, mg.current_scope()

    ta, ra = in_thread(lambda: worker("A", a_in, b_in))
    tb, rb = in_thread(lambda: worker("B", b_in, a_in))
    ta.join(5)
    tb.join(5)
    assert ra["value"] == ("A", "A") and rb["value"] == ("B", "B")
    assert mg.current_scope() == ""


def test_detect_anomaly_in_one_thread_does_not_raise_in_another():
    entered, done = threading.Event(), threading.Event()

    def other(entered, done):
        with mg.detect_anomaly():
            entered.set()
            done.wait(5)
            return mg.is_anomaly_enabled()

    thread, out = in_thread(other, entered, done)
    entered.wait(5)
    with np.errstate(all="ignore"):
        y = mg.Tensor([0.0]).log()  # -inf: no anomaly here
    assert not mg.is_anomaly_enabled() and np.isneginf(y.data).all()
    done.set()
    thread.join(5)
    assert out == {"value": True}


def test_a_new_thread_starts_from_the_defaults():
    with mg.no_grad(), mg.scope("outer"), mg.keep_grads():
        thread, out = in_thread(lambda: (mg.is_grad_enabled(), mg.current_scope(), mg.modes.modes().keep))
        thread.join(5)
    assert out == {"value": (True, "", False)}


def test_asyncio_tasks_keep_their_own_modes():
    async def task(name, mine, theirs):
        with mg.scope(name), mg.set_grad_enabled(name == "A"):
            mine.set()
            await theirs.wait()
            await asyncio.sleep(0)
            return mg.current_scope(), mg.is_grad_enabled()

    async def main():
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task("A", a, b), task("B", b, a))

    assert asyncio.run(main()) == [("A", True), ("B", False)]


def test_one_instance_nests_and_decorates():
    ng = mg.no_grad()
    with ng:
        with ng:
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()

    @mg.scope("f")
    def f(depth):
        return mg.current_scope() if depth == 0 else f(depth - 1)
    assert f(2) == "f/f/f" and mg.current_scope() == ""


def test_exiting_out_of_order_restores_each_setting():
    a, b = mg.no_grad(), mg.scope("s")
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)  # the scope's record stays
    assert mg.current_scope() == "s"
    b.__exit__(None, None, None)
    assert mg.is_grad_enabled() and mg.current_scope() == ""
    with pytest.raises(RuntimeError, match="exited without a matching enter"):
        b.__exit__(None, None, None)


def test_a_reused_setting_gives_the_right_modes_under_every_outer_mode():
    inner = mg.scope("t=0")  # one instance, entered under many outer modes, as unroll's step scopes are
    outers = [mg.scope("layer0"), mg.scope("layer1"), mg.no_grad(), mg.detect_anomaly()]
    for _ in range(3):  # later rounds reuse the modes the instance remembered
        for outer in outers:
            with outer:
                before = current_modes()
                with inner:
                    assert mg.current_scope() == (f"{before.scope}/t=0" if before.scope else "t=0")
                    assert (mg.is_grad_enabled(), mg.is_anomaly_enabled()) == (before.grad, before.anomaly)
                assert current_modes() is before  # nothing changed inside: the very object comes back
    assert current_modes().scope == "" and mg.is_grad_enabled() and not mg.is_anomaly_enabled()


def test_a_mode_changed_inside_a_reused_scope_outlives_it_out_of_order():
    s, ng = mg.scope("s"), mg.no_grad()
    for _ in range(2):
        s.__enter__()
        ng.__enter__()
        s.__exit__(None, None, None)  # the scope leaves first: grad stays off, the path is restored
        assert mg.current_scope() == "" and not mg.is_grad_enabled()
        ng.__exit__(None, None, None)
        assert mg.is_grad_enabled()


# anomaly mode names the step --------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False, "sequence"], ids=["cells", "ops", "seq"])
@pytest.mark.parametrize("kind", [zoo.RNN, zoo.LSTM, zoo.GRU])
def test_anomaly_mode_names_the_time_step_of_a_nan_in_the_input(kind, fused):
    x = np.ones((5, 2, 3))
    x[3, 1, 0] = np.nan
    layer = kind(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, fused=fused)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match=r"produced NaN in scope 'layer0/fwd/t=3'"):
        layer(mg.Tensor(x))


def test_value_engine_has_anomaly_mode_too():
    a = mg.Value(1000.0)
    with mg.detect_anomaly(), mg.scope("t=2"):
        with pytest.raises(mg.AnomalyError, match=r"forward of 'exp' produced Inf in scope 't=2'"):
            a.exp()
    b = mg.Value(1e308)
    c = b * b  # inf, outside anomaly mode: allowed
    assert c.data == float("inf")
    d = mg.Value(1e-320)  # log is finite there, its derivative 1/d is not
    with mg.scope("t=1"):
        e = d.log() * 2.0
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match=r"backward of 'log' .*Inf in scope 't=1'"):
        e.backward()
