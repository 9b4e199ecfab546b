"""placedock.early_stop in this process: a stop signal raises, or waits for a block to end."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from placedock import early_stop


@pytest.fixture(autouse=True)
def handlers_restored() -> Iterator[None]:
    before = {signum: signal.getsignal(signum) for signum in early_stop.STOP_SIGNALS}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", early_stop.STOP_SIGNALS)
def test_a_stop_signal_raises_where_the_code_is(signum: int) -> None:
    early_stop.install()
    with pytest.raises(early_stop.StopRequested, match=signal.Signals(signum).name):
        os.kill(os.getpid(), signum)
        signal.sigtimedwait([], 0)  # no-op: a point where the handler runs, if it did not yet


def test_a_stop_during_a_deferred_block_is_raised_once_the_block_is_done() -> None:
    early_stop.install()
    steps: list[str] = []
    with pytest.raises(early_stop.StopRequested, match="SIGTERM"), early_stop.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        steps.append("after the signal")
        steps.append("block done")
    assert steps == ["after the signal", "block done"]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) & set(early_stop.STOP_SIGNALS) == set()


def test_a_deferred_block_without_a_stop_leaves_signals_as_they_were() -> None:
    early_stop.install()
    with early_stop.deferred():
        assert set(early_stop.STOP_SIGNALS) <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) & set(early_stop.STOP_SIGNALS) == set()
