"""benchmarks/registry_scale.py on a small registry: it runs, and each way it measures gives the answers of the
way it is measured against (the script exits 1 otherwise)."""
from __future__ import annotations

from tests.benchmark_scripts import load_benchmark


def test_the_registry_scale_benchmark_compares_like_with_like(capsys):
    benchmark = load_benchmark("registry_scale")
    assert benchmark.main(["--agencies", "3000", "--documents", "300", "--baseline-documents", "30"]) == 0
    out = capsys.readouterr().out
    assert "same agency on the 30 documents both did: yes" in out
    assert out.count("same agencies: yes") == 1 and out.count("same hosts: yes") == 2
    assert "3,000 agencies   store_agencies" in out and "NO" not in out
