"""``openlipsync cache info|clear``: the analysis cache's contents, and emptying it."""

from __future__ import annotations

from click.testing import CliRunner

from openlipsync.cli.main import cli


def test_info_lists_the_entries_and_clear_removes_them(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    for name, size in (("aaa", 3 * 2**20), ("bbb", 2**20)):
        (root / f"{name}.analysis").write_bytes(b"\0" * size)
    (root / "notes.txt").write_text("not an entry")
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", str(root))
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE_MB", "100")
    runner = CliRunner()

    shown = runner.invoke(cli, ["cache", "info"])
    assert shown.exit_code == 0, shown.output
    assert f"directory: {root}" in shown.output
    assert "entries:   2, 4.0 MiB of 100 MiB" in shown.output
    assert "aaa" in shown.output and "bbb" in shown.output and "notes" not in shown.output

    cleared = runner.invoke(cli, ["cache", "clear"])
    assert cleared.exit_code == 0 and "removed 2 entries" in cleared.output
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    assert "entries:   0, 0.0 MiB" in runner.invoke(cli, ["cache", "info"]).output


def test_a_cache_turned_off_or_never_made_is_reported_as_such(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", "off")
    for command in ("info", "clear"):
        result = runner.invoke(cli, ["cache", command])
        assert result.exit_code == 0 and "the analysis cache is off" in result.output
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", str(tmp_path / "never"))
    assert "entries:   0," in runner.invoke(cli, ["cache", "info"]).output
    assert "removed 0 entries" in runner.invoke(cli, ["cache", "clear"]).output
    assert not (tmp_path / "never").exists()
