"""The two shipped deployments hold their plans, line by line.

The expected tables are transcribed here from the seeds (the Nantong plan's
附件1-3, the Liyang plan's 附件2-3) independently of the YAML, and compared
with what the loader reads.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from cti.config import AfterCutover, Config, LinePhase, Mode, load_config
from cti.config.cli import check_config_main

pytestmark = pytest.mark.foundation

ROOT = Path(__file__).resolve().parent.parent
NANTONG = ROOT / "config"
LIYANG = ROOT / "examples" / "liyang"

# 附件1 直接整合的热线电话: (序号, numbers, department, after the transition)
W, K, M = AfterCutover.WITHDRAWN, AfterCutover.KEPT, AfterCutover.MAIN_NUMBER
NANTONG_MERGED = [
    (1, ("12345",), "信访局", M),
    (2, ("83531111",), "城建局", W),
    (3, ("85129699",), "安监局", W),
    (4, ("83509110",), "规划局", W),
    (5, ("85551000",), "政务中心", W),
    (6, ("89171090",), "经信委", W),
    (7, ("81000000",), "房管局", W),
    (8, ("85192809",), "房管局", W),
    (9, ("59001826",), "房管局", W),
    (10, ("85529193", "85510951"), "房管局", W),
    (11, ("59000544",), "房管局", W),
    (12, ("85112868",), "房管局", W),
    (13, ("85599002",), "房管局", W),
    (14, ("85098110",), "旅游局", W),
    (15, ("12301",), "旅游局", K),
    (16, ("85158750",), "民政局", W),
    (17, ("85661648",), "民政局", W),
    (18, ("13328062110",), "海渔局（渔政监督支队）", W),
    (19, ("51015889",), "民宗局", W),
    (20, ("85216646",), "档案局", W),
    (21, ("85525405",), "交通局", W),
    (22, ("83556238",), "地税局", W),
    (23, ("83562093",), "公安局", W),
    (24, ("89100000",), "公安局", W),
    (25, ("85215505",), "农办", W),
    (26, ("85594202",), "财政局", W),
    (27, ("12356",), "人口计生委", K),
    (28, ("12358",), "物价局", K),
    (29, ("12310",), "市编办", K),
    (30, ("12312",), "商务局", K),
    (31, ("96196",), "交通局", K),
    (32, ("12316",), "农委", K),
    (33, ("12351",), "市总工会", K),
    (34, ("12355",), "团市委", K),
    (35, ("12338",), "妇联", K),
]

# 附件2 并联整合的热线电话
NANTONG_PARALLEL = [
    (1, "12336", "国土局"),
    (2, "12333", "人社局"),
    (3, "96121", "气象局"),
    (4, "12319", "城管局"),
    (5, "12348", "司法局"),
    (6, "12318", "文广新局"),
    (7, "12320", "卫生局"),
    (8, "12328", "交通局"),
    (9, "12369", "环保局"),
    (10, "12330", "科技局"),
    (11, "12365", "质监局"),
    (12, "96888744", "国税局"),
    (13, "12366", "地税局"),
    (14, "12331", "食品药品监管局"),
    (15, "12360", "南通海关"),
    (16, "12365", "检验检疫局"),
    (17, "12315", "工商局"),
    (18, "12329", "市住房公积金中心"),
    (19, "95598", "供电公司"),
    (20, "85516838", "南通大众燃气有限公司"),
    (21, "85595599", "南通市自来水公司"),
    (22, "8008285504", "南通烟草专卖局"),
    (23, "12313", "南通烟草专卖局"),
]

# 附件3 纳入便民服务协约管理的热线电话
NANTONG_PARTNERS = [
    (1, ("4008108866",), "人民银行"),
    (2, ("95566",), "中国银行"),
    (3, ("95533",), "建设银行"),
    (4, ("95588",), "工商银行"),
    (5, ("95599",), "农业银行"),
    (6, ("4007119088",), "南通日报社"),
    (7, ("85110110",), "江海晚报社"),
    (8, ("96296",), "中广有线南通分公司"),
    (9, ("85596110",), "广播电视台"),
    (10, ("85582000",), "广播电视台"),
    (11, ("85100973",), "广播电视台"),
    (12, ("85155577", "85581111"), "广播电视台"),
    (13, ("10000",), "电信南通分公司"),
    (14, ("10086",), "移动南通分公司"),
    (15, ("10010",), "联通南通分公司"),
    (16, ("85545342",), "通沙汽渡"),
    (17, ("85517659",), "公交总公司"),
    (18, ("85582816",), "南通东站"),
    (19, ("83512816",), "南通汽车站"),
    (20, ("83521000",), "出租汽车公司"),
]

# Liyang 附件3 热线整合时间表: month -> (number, 整合方式) ; 附件2 gives departments.
LIYANG_TIMETABLE = {
    "2017-05": [("12310", "并网运行"), ("87209900", "直接整合")],
    "2017-06": [
        ("12312", "并网运行"),
        ("87209191", "直接整合"),
        ("12315", "进驻平台"),
        ("12333", "进驻平台"),
        ("12329", "进驻平台"),
    ],
    "2017-07": [
        ("12318", "并网运行"),
        ("12316", "并网运行"),
        ("87286017", "直接整合"),
        ("87222637", "直接整合"),
        ("87222987", "直接整合"),
        ("87269177", "直接整合"),
        ("87269173", "直接整合"),
        ("87288005", "直接整合"),
        ("87209633", "直接整合"),
    ],
    "2017-08": [
        ("12365", "并网运行"),
        ("12350", "并网运行"),
        ("12358", "并网运行"),
        ("87269326", "直接整合"),
        ("87222825", "直接整合"),
        ("87269352", "直接整合"),
        ("87269368", "直接整合"),
        ("87266511", "直接整合"),
    ],
    "2017-09": [
        ("12369", "并网运行"),
        ("12336", "并网运行"),
        ("12330", "并网运行"),
        ("12331", "并网运行"),
        ("87112369", "直接整合"),
        ("87285159", "直接整合"),
        ("67189285", "直接整合"),
        ("87572588", "直接整合"),
        ("87217509", "直接整合"),
        ("87210077", "直接整合"),
        ("87229110", "直接整合"),
        ("87224642", "直接整合"),
        ("87732080", "直接整合"),
        ("87214427", "直接整合"),
    ],
    "2017-10": [
        ("12320", "并网运行"),
        ("12356", "并网运行"),
        ("12328", "并网运行"),
        ("968897", "并网运行"),
        ("87209211", "直接整合"),
        ("87222160", "直接整合"),
        ("87269263", "直接整合"),
        ("87285105", "直接整合"),
    ],
    "2017-11": [
        (n, "并联整合")
        for n in [
            *("12319", "12348", "12366", "12366-2", "12360", "12313", "96121", "87622222"),
            *("87204201", "87209653", "87236505", "87203666", "87283070", "87597109"),
            *("87880232", "87880233", "96296", "87306909", "87311972", "87319972"),
        ]
    ],
}
MODES = {
    "直接整合": Mode.DIRECT,
    "并网运行": Mode.GRID,
    "进驻平台": Mode.SEATED,
    "并联整合": Mode.PARALLEL,
}


@pytest.fixture(scope="module")
def nantong() -> Config:
    return load_config(NANTONG)


@pytest.fixture(scope="module")
def liyang() -> Config:
    return load_config(LIYANG)


def test_nantong_merged_lines_match_annex_1(nantong: Config) -> None:
    got = [(ln.no, ln.numbers, ln.department, ln.after_cutover) for ln in nantong.lines.merged]
    assert got == NANTONG_MERGED
    assert all(line.mode is Mode.DIRECT for line in nantong.lines.merged)


def test_nantong_kept_numbers_are_the_special_service_numbers(nantong: Config) -> None:
    kept = {n for ln in nantong.lines.merged if ln.after_cutover is K for n in ln.numbers}
    # 四（一）: 123** special-service numbers (and 96196) kept, everything else withdrawn.
    assert kept == {"12301", "12356", "12358", "12310", "12312", "96196", "12316", "12351"} | {
        "12355",
        "12338",
    }
    withdrawn = [n for ln in nantong.lines.merged if ln.after_cutover is W for n in ln.numbers]
    assert len(withdrawn) == 25 and not any(n.startswith("123") for n in withdrawn)


def test_nantong_parallel_lines_match_annex_2(nantong: Config) -> None:
    got = [(p.no, p.numbers[0], p.department) for p in nantong.lines.parallel]
    assert got == NANTONG_PARALLEL
    assert len({p.department for p in nantong.lines.parallel}) == 22  # 22家部门、单位


def test_nantong_partner_lines_match_annex_3(nantong: Config) -> None:
    got = [(p.no, p.numbers, p.department) for p in nantong.lines.partners]
    assert got == NANTONG_PARTNERS
    assert len({p.department for p in nantong.lines.partners}) == 17  # 17家单位


def test_nantong_every_number_with_its_department(nantong: Config) -> None:
    expected: dict[str, set[str]] = {}
    for _, numbers, dept, _ in NANTONG_MERGED:
        for number in numbers:
            expected.setdefault(number, set()).add(dept)
    for _, number, dept in NANTONG_PARALLEL:
        expected.setdefault(number, set()).add(dept)
    for _, numbers, dept in NANTONG_PARTNERS:
        for number in numbers:
            expected.setdefault(number, set()).add(dept)
    got: dict[str, set[str]] = {}
    for group in (nantong.lines.merged, nantong.lines.parallel, nantong.lines.partners):
        for line in group:
            for number in line.numbers:
                got.setdefault(number, set()).add(line.department)
    assert got == expected
    # The text says 26家部门、单位; the table names 25 (交通局 holds lines 21 and 31).
    assert len({ln.department for ln in nantong.lines.merged}) == 25


def test_nantong_platform_shape(nantong: Config) -> None:
    assert nantong.platform.main_number == "12345"
    assert nantong.line_dates("85098110").go_live == dt.date(2015, 1, 1)
    assert nantong.line_dates("85098110").cut_over == dt.date(2015, 4, 1)  # 3-month transition
    assert {e.number for e in nantong.lines.emergency} == {"110", "119", "120", "12395"}
    assert len(nantong.seats.seats) == 40 and len(nantong.agents.agents) == 35
    assert "general" in nantong.queues.queues
    assert {"desk_12315", "desk_12333", "desk_12329"} <= set(nantong.queues.queues)
    # GB/T 33358: 12345 reaches a human without a menu by default.
    main = nantong.routing.routes[nantong.routing.main]
    assert main.menu is None and main.queue == "general"


def test_liyang_timetable_and_modes(liyang: Config) -> None:
    got: dict[str, list[tuple[str, Mode]]] = {}
    for line in (*liyang.lines.merged, *liyang.lines.parallel):
        if line.batch is not None:
            ext = getattr(line, "extension", None)
            for number in line.numbers:
                shown = number if ext is None else f"{number}-{ext}"  # the plan's 12366-2
                got.setdefault(line.batch, []).append((shown, line.mode))
    expected = {
        month: sorted((n, MODES[mode]) for n, mode in rows)
        for month, rows in LIYANG_TIMETABLE.items()
    }
    assert {month: sorted(rows) for month, rows in got.items()} == expected
    for month, batch in liyang.lines.batches.items():
        assert batch.go_live == dt.date.fromisoformat(f"{month}-01")


def test_liyang_lines_of_annex_2(liyang: Config) -> None:
    direct = [ln for ln in liyang.lines.merged if ln.mode is Mode.DIRECT and ln.no is not None]
    grid = [ln for ln in liyang.lines.merged if ln.mode is Mode.GRID]
    seated = {ln.numbers[0]: ln.department for ln in liyang.lines.merged if ln.mode is Mode.SEATED}
    assert len(direct) == 29  # 12345 + 28 department numbers of 22 departments
    assert len({ln.department for ln in direct if ln.after_cutover is W}) == 22
    assert all(ln.after_cutover is K for ln in grid) and len(grid) == 15
    assert seated == {"12315": "市场监管局", "12333": "人社局", "12329": "住房公积金中心"}
    local_tax = next(p for p in liyang.lines.parallel if p.department == "地税局")
    assert (local_tax.numbers, local_tax.extension) == (("12366",), "2")  # 12366-2
    assert len(liyang.seats.seats) == 20 and len(liyang.agents.agents) == 15


def test_liyang_batches_switch_on_their_own_dates(liyang: Config) -> None:
    assert liyang.line_phase("87209211", dt.date(2017, 9, 30)) is LinePhase.BEFORE_GO_LIVE
    assert liyang.line_phase("87209211", dt.date(2017, 10, 1)) is LinePhase.TRANSITION
    assert liyang.line_phase("87209900", dt.date(2017, 5, 1)) is LinePhase.TRANSITION
    assert liyang.line_phase("87209900", dt.date(2018, 7, 1)) is LinePhase.AFTER_CUTOVER


@pytest.mark.parametrize(
    ("directory", "summary"),
    [
        (
            "config",
            "36 routed numbers (35 merged lines), 23 parallel lines, 20 partner lines, "
            "6 queues, 35 agents, 40 seats, 1 menu",
        ),
        (
            "examples/liyang",
            "47 routed numbers (47 merged lines), 19 parallel lines, 0 partner lines, "
            "4 queues, 15 agents, 20 seats, 1 menu",
        ),
    ],
)
def test_check_config_accepts_the_shipped_deployments(
    directory: str,
    summary: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    # A day the shipped holiday list covers, so the result does not depend on the run's date.
    assert check_config_main([directory, "--today", "2026-06-01"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{directory}: valid — {summary}\n"
    assert err == ""


def test_the_console_script_checks_config() -> None:
    hotline = Path(sys.executable).parent / "hotline"
    done = subprocess.run(
        [str(hotline), "check-config", "config/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("config/: valid — 36 routed numbers")
