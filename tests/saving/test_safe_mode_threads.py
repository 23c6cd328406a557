"""Safe mode switched off by one thread's trusted load (`safe_mode=False`) stays on in every other thread."""
import threading

from deepglass import config
from deepglass.saving.serialization import SafeModeScope


def test_a_scope_in_one_thread_leaves_other_threads_safe():
    inside, release, seen = threading.Event(), threading.Event(), []

    def trusted_load():
        with SafeModeScope(False):
            seen.append(config.in_safe_mode())
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=trusted_load)
    worker.start()
    inside.wait(5)
    try:
        assert seen == [False] and config.in_safe_mode()  # the main thread is still safe
    finally:
        release.set()
        worker.join()
    assert config.in_safe_mode()


def test_scopes_nest_and_restore():
    with SafeModeScope(False):
        with SafeModeScope(True):
            assert config.in_safe_mode()
        assert not config.in_safe_mode()
    assert config.in_safe_mode()
