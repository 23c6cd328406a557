"""`import deepglass` in a fresh process: what it leaves behind besides the package."""
import subprocess
import sys


def fresh_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_the_garbage_collector_is_left_as_it_was():
    assert fresh_python("import gc, deepglass; print(gc.isenabled(), gc.get_freeze_count())") == ["True", "0"]
    assert fresh_python("import gc; gc.disable(); import deepglass; print(gc.isenabled())") == ["False"]


def test_the_import_runs_no_collection():
    # The import's long-lived objects go to the oldest generation without a walk; a first collection of the youngest
    # one would walk them all (a tenth of the import's time).
    code = ("import gc; runs = []; gc.callbacks.append(lambda phase, info: runs.append(info['generation']) if "
            "phase == 'stop' else None); import deepglass; print(len(runs))")
    assert fresh_python(code) == ["0"]
