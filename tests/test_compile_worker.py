"""The side process that compiles the stored-variable callback: it can only save time.

That it fills the cache and leaves the draws unchanged is checked on a real model in
``tests/test_nutpie_numba.py`` (the first process loads the stored-variable callback the side
process compiled, and all processes give the same draws); here its process handling.
"""

from __future__ import annotations

import subprocess
import sys
import time

from relapse_model.models import compile_worker


def test_switched_off_by_the_environment_nothing_is_started(monkeypatch):
    monkeypatch.setenv(compile_worker.ENVIRONMENT_SWITCH, "0")
    assert compile_worker.start("any-key") is None
    assert compile_worker.finish(None) is False


def test_a_key_with_no_stored_graphs_makes_the_side_process_fail_and_the_caller_compile(monkeypatch):
    monkeypatch.setenv(compile_worker.ENVIRONMENT_SWITCH, "1")
    monkeypatch.setattr(compile_worker, "idle_core", lambda: False)    # "1" starts it regardless
    process = compile_worker.start("0" * 64)
    assert process is not None
    assert compile_worker.finish(process) is False
    assert process.returncode == 1


def test_with_no_idle_core_the_caller_compiles_everything(monkeypatch):
    monkeypatch.delenv(compile_worker.ENVIRONMENT_SWITCH, raising=False)
    monkeypatch.setattr(compile_worker, "idle_core", lambda: False)
    assert compile_worker.start("0" * 64) is None


def test_a_core_is_idle_only_when_the_other_threads_leave_one(monkeypatch):
    cores = len(compile_worker.os.sched_getaffinity(0))
    for running, idle in ((1, cores > 1), (cores, False), (cores + 3, False)):
        monkeypatch.setattr(compile_worker.Path, "read_text",
                            lambda self, running=running: f"0.5 0.4 0.3 {running}/300 4242\n")
        assert compile_worker.idle_core() is idle, (running, cores)


def test_a_side_process_past_the_timeout_is_stopped(monkeypatch):
    monkeypatch.setattr(compile_worker, "TIMEOUT_SECONDS", 0.5)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    t0 = time.perf_counter()
    assert compile_worker.finish(process) is False
    assert process.poll() is not None, "the side process is still running"
    assert time.perf_counter() - t0 < 30


def test_stop_ends_a_running_side_process_and_ignores_a_finished_one():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    compile_worker.stop(process)
    assert process.poll() is not None
    compile_worker.stop(process)                 # already ended: nothing to do, no error
    compile_worker.stop(None)


def test_main_reports_failure_for_an_unknown_key():
    assert compile_worker.main(["f" * 64]) == 1


def test_child_flags_replace_the_named_ones_and_keep_the_rest(monkeypatch):
    from relapse_model.common.paths import pytensor_flags

    monkeypatch.setenv("PYTENSOR_FLAGS", " floatX=float64, compiledir=/a,numba__fastmath=True,,")
    assert pytensor_flags(base_compiledir="/b") == "floatX=float64,numba__fastmath=True,base_compiledir=/b"
    assert pytensor_flags(numba__fastmath=False) == "floatX=float64,compiledir=/a,numba__fastmath=False"
    monkeypatch.delenv("PYTENSOR_FLAGS")
    assert pytensor_flags() == ""


def test_the_side_process_compiles_under_the_callers_cache_and_fastmath(monkeypatch):
    import pytensor

    launched = {}

    def record(command, env, **kwargs):
        launched.update(command=command, flags=env["PYTENSOR_FLAGS"])
        return "process"

    monkeypatch.setenv(compile_worker.ENVIRONMENT_SWITCH, "1")
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64,compiledir=/elsewhere")
    monkeypatch.setattr(subprocess, "Popen", record)
    assert compile_worker.start("k" * 64) == "process"
    assert launched["command"][-1] == "k" * 64
    assert launched["flags"].split(",") == [
        "floatX=float64", f"base_compiledir={pytensor.config.base_compiledir}",
        f"numba__fastmath={pytensor.config.numba__fastmath}"]
