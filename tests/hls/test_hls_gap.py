"""A global average pool (GlobalAvgPool2d) through hls4ml: its torch module is rebuilt as
AvgPool2d's (a full-image AvgPool2d, the rule it inherits), and the C simulation computes
the bit-accurate model's integers on every output of every sample."""

from __future__ import annotations

from rtl.gapnet import global_pool, mean_6x6  # tests/ is on sys.path (rootdir conftest)

from codesign.hls.module import MODULES
from codesign.hls.project import emit_hls


def test_global_pool_csim_bit_exact(tmp_path):
    qnet, x = mean_6x6()
    pool = global_pool(qnet)
    rebuilt = MODULES(pool)(pool)
    assert type(rebuilt).__name__ == "AvgPool2d" and rebuilt.kernel_size == (6, 6)
    project = emit_hls(qnet, tmp_path / "hls", io="parallel")
    project.compile()
    report = project.verify(x)
    assert report.ok and report.mismatch is None, report.to_dict()
    assert report.identical_samples == report.samples == len(x), report.to_dict()
