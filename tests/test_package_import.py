"""`import deepglass` in a fresh process: what it leaves behind besides the package."""
import subprocess
import sys

import pytest


def fresh_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def frozen_at_startup():
    """How many objects this interpreter's start (a sitecustomize, a .pth file) froze before any program ran."""
    return int(fresh_python("import gc; print(gc.get_freeze_count())")[0])


def test_the_garbage_collector_is_left_as_it_was():
    # nothing frozen by the import (objects frozen as the interpreter started may have been freed since)
    code = ("import gc; before = gc.get_freeze_count(); import deepglass; "
            "print(gc.isenabled(), gc.get_freeze_count() <= before)")
    assert fresh_python(code) == ["True", "True"]
    assert fresh_python("import gc; gc.disable(); import deepglass; print(gc.isenabled())") == ["False"]
    frozen = "import gc; kept = [[i] for i in range(1000)]; gc.freeze(); before = gc.get_freeze_count(); "
    assert fresh_python(frozen + "import deepglass; print(gc.get_freeze_count() > before // 2)") == ["True"]


def test_the_import_runs_no_collection_once_torch_is_loaded():
    # The import's long-lived objects go to the oldest generation without a walk; a first collection of the youngest
    # one would walk them all (a tenth of the import's time). Finding the package may collect before that.
    if frozen_at_startup():
        pytest.skip("this interpreter freezes objects as it starts, and the import then leaves the generations alone")
    code = ("import gc, sys; late = []; gc.callbacks.append(lambda phase, info: late.append('torch' in sys.modules) "
            "if phase == 'stop' else None); import deepglass; print(sum(late))")
    assert fresh_python(code) == ["0"]
