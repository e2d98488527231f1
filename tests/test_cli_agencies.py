"""``xxgk agencies import/list/check`` against a real catalog in a temporary data directory."""
from __future__ import annotations

import json
import os

from tests.test_cli_parse import run


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_shipped_registry_checks_clean():
    result = run("agencies", "check")
    assert result.returncode == 0, result.stdout
    assert "0 个问题" in result.stdout


def test_check_names_each_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: a\n  name: 甲局\n  level: city\n  homepage: http://a.gov.cn/\n"
                    "- id: a\n  name: 乙局\n  level: department\n  homepage: ftp://b\n", encoding="utf-8")
    result = run("agencies", "check", str(path))
    assert result.returncode == 1
    assert "level" in result.stdout and "homepage" in result.stdout and "id" in result.stdout
    assert "2 个机关" in result.stdout


def test_import_then_list(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,name,level,homepage\nlz-wjj,临淄区卫生健康局,department,http://www.linzi.gov.cn/\n"
                    "lz-gov,临淄区人民政府,government,http://www.linzi.gov.cn/\n", encoding="utf-8")
    env = _env(tmp_path)
    empty = run("agencies", "list", env=env)
    assert empty.returncode == 1 and "xxgk agencies import" in empty.stderr
    assert run("agencies", "import", str(path), env=env).returncode == 0
    listed = json.loads(run("agencies", "list", "--format", "json", env=env).stdout)
    assert {row["id"]: row["name"] for row in listed} == {"lz-wjj": "临淄区卫生健康局", "lz-gov": "临淄区人民政府"}
    table = run("agencies", "list", "--level", "government", env=env).stdout
    assert "临淄区人民政府" in table and "临淄区卫生健康局" not in table


def test_import_refuses_an_invalid_registry(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: x\n  name: 甲\n  level: nation\n  homepage: http://x.gov.cn/\n", encoding="utf-8")
    result = run("agencies", "import", str(path), env=_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "nothing imported" in result.stderr
