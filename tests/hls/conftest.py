"""hls4ml tests: every network is emitted and compiled once per session, cases running
side by side in separate processes (g++ dominates; one compile per network and io type),
and each test reads its network's result.

The default set keeps tests/hls near 8 minutes on 2 cores. --extended (registered in the
root conftest; CI passes it) or CODESIGN_EXTENDED=1 adds digits_wide and more random
networks.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

IOS = ("parallel", "stream")
ZOO = ("digits_cnn", "digits_resnet")
RANDOM_SEEDS = range(20)
EXTENDED_SEEDS = range(20, 40)  # CI runs these (--extended): ~40 CPU-s a case
PARALLEL_ONLY_SEEDS = (100, 101)  # lossy average-pool accumulators: io_parallel only


def extended(config: pytest.Config | None = None) -> bool:
    if os.environ.get("CODESIGN_EXTENDED", "") not in ("", "0"):
        return True
    return bool(config and config.getoption("--extended"))


def all_cases(ext: bool) -> list[str]:
    """Longest first, so the pool finishes together."""
    cases = [f"zoo:{name}:{io}" for name in ZOO for io in IOS]
    cases += ["pitfall:order:parallel", "cli:digits_cnn:stream"]
    cases += [f"stress:order:{io}" for io in IOS] + ["stress:avgpool:parallel"]
    cases += [f"rand:{s}:{io}" for s in RANDOM_SEEDS for io in IOS]
    cases += [f"randp:{s}:parallel" for s in PARALLEL_ONLY_SEEDS]
    if ext:
        cases += [f"zoo:digits_wide:{io}" for io in IOS]
        cases += [f"rand:{s}:{io}" for s in EXTENDED_SEEDS for io in IOS]
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hls_case" in metafunc.fixturenames:
        cases = [c for c in all_cases(extended(metafunc.config))
                 if c.split(":")[0] not in ("pitfall", "cli")]
        metafunc.parametrize("hls_case", cases)


def _run_isolated(case: str, root: str) -> dict:
    """One case in its own process: a crash in a compiled C simulation (hls4ml's asserts
    abort) fails that case with its message, not the whole pool."""
    import json
    import subprocess

    cmd = [sys.executable, str(Path(__file__).parent / "harness.py"), case, root]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return {"case": case, "crash": done.returncode, "stderr": done.stderr[-4000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def hls_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, Future]:
    """case -> Future of harness.run_case's result (a dict); all submitted at first use,
    run os.cpu_count() at a time (at most 4), each in its own process."""
    root = str(tmp_path_factory.mktemp("hls"))
    workers = max(1, min(os.cpu_count() or 2, 4))
    pool = ThreadPoolExecutor(workers)
    request.addfinalizer(lambda: pool.shutdown(cancel_futures=True))
    return {case: pool.submit(_run_isolated, case, root)
            for case in all_cases(extended(request.config))}
