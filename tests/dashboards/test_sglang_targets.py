"""dashboards/sglang_targets.py and `poolscope dashboards sglang-target`: an SGLang server's URL
becomes one file_sd target group (scheme, address, metrics path, instance), a bad URL is refused
with a message naming it, and the file is replaced atomically, readable by Prometheus."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dashboards.sglang_targets import SGLangTarget, file_sd_document, parse_url, write_file_sd
from runtime.cli.main import main


@pytest.mark.parametrize(
    ("url", "address", "scheme", "metrics_path", "instance"),
    [
        ("http://gpu-3:30000", "gpu-3:30000", "http", "/metrics", "gpu-3:30000"),
        ("http://gpu-3:30000/", "gpu-3:30000", "http", "/metrics", "gpu-3:30000"),
        (" http://10.0.0.7:30000/metrics ", "10.0.0.7:30000", "http", "/metrics", "10.0.0.7:30000"),
        ("http://sglang", "sglang:80", "http", "/metrics", "sglang:80"),
        ("https://gw.example", "gw.example:443", "https", "/metrics", "gw.example:443"),
        ("https://gw.example:8443/llm/a/", "gw.example:8443", "https", "/llm/a/metrics",
         "gw.example:8443/llm/a"),
        ("https://gw.example/llm/metrics", "gw.example:443", "https", "/llm/metrics",
         "gw.example:443/llm"),
        ("HTTP://[fd00::1]:30000", "[fd00::1]:30000", "http", "/metrics", "[fd00::1]:30000"),
    ],
)
def test_good_urls_become_a_target(
    url: str, address: str, scheme: str, metrics_path: str, instance: str
) -> None:
    """A base URL (any case of scheme, optional port, path prefix or trailing /metrics) gives
    the address, scheme, metrics path and instance Prometheus scrapes it by."""
    target = parse_url(url)
    assert (target.address, target.scheme) == (address, scheme)
    assert (target.metrics_path, target.instance) == (metrics_path, instance)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("gpu-3:30000", "no scheme"),
        ("ftp://gpu-3:30000", "http or https"),
        ("http://", "no host"),
        ("http://:30000", "no host"),
        ("http://gpu-3:0", "1..65535"),
        ("http://gpu-3:65536", "out of range"),
        ("http://gpu-3:abc", "integer"),
        ("http://user:secret@gpu-3:30000", "credentials"),
        ("http://gpu-3:30000/?x=1", "query"),
        ("http://gpu-3:30000/#top", "fragment"),
        ("", "no scheme"),
    ],
)
def test_bad_urls_are_refused_naming_the_url(url: str, problem: str) -> None:
    """Another scheme, no scheme or host, a bad port, credentials, a query or a fragment raise
    ValueError naming the URL and the problem."""
    with pytest.raises(ValueError, match="bad SGLang URL") as raised:
        parse_url(url)
    assert repr(url) in str(raised.value) and problem in str(raised.value)


def test_target_rejects_bad_fields() -> None:
    """SGLangTarget validates its own fields: scheme, host, port range and prefix shape."""
    for fields in (("ftp", "h", 1, ""), ("http", "", 1, ""), ("http", "h", 70000, ""),
                   ("http", "h", 1, "x"), ("http", "h", 1, "/x/")):
        with pytest.raises(ValueError):
            SGLangTarget(*fields)


def test_loopback_hosts_are_flagged() -> None:
    """localhost, 127.0.0.0/8 and ::1 are loopback; names and other addresses are not."""
    loopback = ["http://localhost:1", "http://127.0.0.2:1", "http://[::1]:1"]
    assert all(parse_url(url).is_loopback for url in loopback)
    assert not any(parse_url(url).is_loopback for url in ["http://gpu:1", "http://10.0.0.1:1"])


def test_file_sd_groups_carry_no_job() -> None:
    """Each target group holds one address and its scheme, path and instance labels; the job
    is left to the scrape config."""
    document = file_sd_document([parse_url("http://a:1"), parse_url("https://b/p")])
    assert document == [
        {"targets": ["a:1"],
         "labels": {"__scheme__": "http", "__metrics_path__": "/metrics", "instance": "a:1"}},
        {"targets": ["b:443"],
         "labels": {"__scheme__": "https", "__metrics_path__": "/p/metrics",
                    "instance": "b:443/p"}},
    ]


def test_write_replaces_the_file_readable_by_all_and_leaves_no_temporary(tmp_path: Path) -> None:
    """Writing over an existing file replaces it whole (a new inode, as a rename gives), mode
    0644 so another user's Prometheus reads it, with no temporary file left behind."""
    path = tmp_path / "sglang.json"
    path.write_text("[]")
    before = path.stat().st_ino
    write_file_sd(path, [parse_url("http://gpu-3:30000")])
    assert json.loads(path.read_text())[0]["targets"] == ["gpu-3:30000"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.stat().st_ino != before
    assert [p.name for p in tmp_path.iterdir()] == ["sglang.json"]


def test_write_into_a_missing_folder_raises_and_leaves_nothing(tmp_path: Path) -> None:
    """A folder that does not exist is an OSError, and nothing is written."""
    with pytest.raises(OSError):
        write_file_sd(tmp_path / "missing" / "sglang.json", [parse_url("http://a:1")])
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`poolscope dashboards sglang-target URL URL --out FILE` writes one group per URL and
    says on stderr what Prometheus will scrape."""
    out = tmp_path / "sglang.json"
    assert main(["dashboards", "sglang-target", "http://a:30000", "https://b/x",
                 "--out", str(out)]) == 0
    assert [g["targets"] for g in json.loads(out.read_text())] == [["a:30000"], ["b:443"]]
    err = capsys.readouterr().err
    assert "http://a:30000/metrics" in err and "https://b:443/x/metrics" in err


def test_cli_prints_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out the JSON goes to stdout; a loopback host adds a warning on stderr."""
    assert main(["dashboards", "sglang-target", "http://127.0.0.1:30000"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["targets"] == ["127.0.0.1:30000"]
    assert captured.err.startswith("poolscope: warning: 127.0.0.1")


def test_cli_refuses_a_bad_url_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad URL among several is exit 2 with one `poolscope: error:` line naming it, and no
    file is written."""
    out = tmp_path / "sglang.json"
    assert main(["dashboards", "sglang-target", "http://a:1", "ftp://b", "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("poolscope: error: bad SGLang URL 'ftp://b'")
    assert not out.exists()
