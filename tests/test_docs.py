"""The pages in docs/ match the committed JSON, and their links stay inside the repository."""
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts" / "make_docs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


make_docs = _load_generator()


def test_there_are_pages_with_generated_blocks():
    assert PAGES, "docs/ has no pages"
    assert any("<!-- BEGIN GENERATED:" in p.read_text() for p in PAGES)


def test_every_page_is_current():
    problems = make_docs.check(ROOT)
    assert not problems, "stale docs; run python3 scripts/make_docs.py:\n" + "\n".join(map(str, problems))


def test_check_reports_a_changed_number(tmp_path):
    """Copy a page and its JSON, change one measured number: the check names that block."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "figures").mkdir()
    shutil.copy(DOCS / "dynamics.md", tmp_path / "docs" / "dynamics.md")
    for name in ("rent_fig3_pgd_fgd.json", "rent_prop4.json", "rntk_dynamics.json"):
        shutil.copy(ROOT / "figures" / name, tmp_path / "figures" / name)
    assert make_docs.check(tmp_path) == []

    path = tmp_path / "figures" / "rntk_dynamics.json"
    d = json.loads(path.read_text())
    d["max_rel_err_train"]["128"] += 0.1
    path.write_text(json.dumps(d))
    problems = make_docs.check(tmp_path)
    assert [(p.page, p.block, p.kind) for p in problems] == [("dynamics.md", "dynamics_table", "stale")]

    # rewriting the blocks makes the copy current again, and leaves the prose alone
    before = (tmp_path / "docs" / "dynamics.md").read_text()
    written, left = make_docs.update(tmp_path)
    assert written == ["dynamics.md"] and left == []
    after = (tmp_path / "docs" / "dynamics.md").read_text()
    assert make_docs.check(tmp_path) == []
    assert before.split("<!-- BEGIN GENERATED")[0] == after.split("<!-- BEGIN GENERATED")[0]


def test_check_reports_unknown_blocks_and_missing_json(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text(
        "# x\n<!-- BEGIN GENERATED: no_such_block -->\n<!-- END GENERATED: no_such_block -->\n"
        "<!-- BEGIN GENERATED: fig2_left -->\n<!-- END GENERATED: fig2_left -->\n"
        "<!-- BEGIN GENERATED: fig2_right -->\n")
    kinds = {(p.block, p.kind) for p in make_docs.check(tmp_path)}
    assert ("no_such_block", "unknown") in kinds
    assert ("fig2_left", "missing-json") in kinds
    assert ("-", "malformed") in kinds


def test_check_exits_nonzero_when_stale(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(ROOT / "benchmarks" / "results" / "bench_empirical.json", tmp_path / "benchmarks" / "results")
    (tmp_path / "docs" / "p.md").write_text(
        "<!-- BEGIN GENERATED: empirical_ntk_speed -->\nold\n<!-- END GENERATED: empirical_ntk_speed -->\n")
    assert make_docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "p.md: empirical_ntk_speed: stale" in capsys.readouterr().out
    assert "old" in (tmp_path / "docs" / "p.md").read_text()  # --check writes nothing
    assert make_docs.main(["--root", str(tmp_path)]) == 0
    assert make_docs.main(["--check", "--root", str(tmp_path)]) == 0


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _relative_targets(text):
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # external URL or an anchor in the same page
        yield target.split("#")[0]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_images_resolve(page):
    missing = [t for t in _relative_targets(page.read_text()) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_point_only_inside_the_repository(page):
    text = page.read_text()
    for bad in ("SPEC §", "../shared"):
        assert bad not in text, f"{page.name} contains {bad!r}"
    for t in _relative_targets(text):
        assert (page.parent / t).resolve().is_relative_to(ROOT), f"{page.name}: {t} leaves the repository"
