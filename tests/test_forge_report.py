"""The report as posted: marker, local images, rewriting, truncation, --target parsing."""

from __future__ import annotations

import pytest

from reporting.errors import ContextError, ReportFileError
from reporting.forges.github import MAX_COMMENT_CHARS
from reporting.report import (
    local_images,
    marker,
    parse_marker,
    read_report,
    render_body,
    rewrite_images,
    truncate,
)
from reporting.target import Target, parse_target
from tests.forge_scenarios import png, write_report

RUN = "0123456789abcdef"
URLS = {"plots/loss.png": "https://github.com/acme/models/raw/cml-infra-assets/images/aa.png",
        "confusion.png": "https://github.com/acme/models/raw/cml-infra-assets/images/bb.png"}


def test_marker_round_trips_any_watermark():
    for title in ("", "Training", 'evil --> "quoted" <b>', "ünïcode / slashes"):
        line = marker(title, RUN)
        assert line.count("-->") == 1 and line.endswith("-->")
        assert parse_marker(f"hello\n{line}\nbody") == (title, RUN)
    assert parse_marker("a comment by a human <!-- other tool -->") is None


def test_local_images_markdown_and_html_in_order_each_once(tmp_path):
    report = write_report(tmp_path)
    text = report.read_text() + (
        "\n![again](plots/loss.png) ![remote](https://x.org/a.png) ![data](data:image/png;x)\n"
        "```\n![in a code block](nothere.png)\n```\n<IMG SRC='confusion.png'>\n")
    found = local_images(text, tmp_path)
    assert [(i.ref, i.path) for i in found] == [
        ("plots/loss.png", tmp_path / "plots/loss.png"),
        ("confusion.png", tmp_path / "confusion.png")]


def test_a_missing_image_is_named(tmp_path):
    with pytest.raises(ReportFileError) as caught:
        local_images("see ![plot](out/roc.png)", tmp_path)
    assert str(caught.value).startswith("Image out/roc.png referenced in the report does not exist")


def test_rendered_body_with_published_images(tmp_path, golden):
    markdown = write_report(tmp_path).read_text()
    body = render_body(rewrite_images(markdown, URLS), watermark="Training", run_id=RUN,
                       limit=MAX_COMMENT_CHARS, forge="GitHub")
    golden("reporting/comment_github.md", body)


def test_truncated_body_keeps_the_marker_and_says_so(golden):
    rows = "".join(f"| {i} | 0.{i:04d} |\n" for i in range(40))
    table = "| step | loss |\n| --- | --- |\n" + rows
    body = render_body(table, watermark="", run_id=RUN, limit=400, forge="GitHub")
    assert len(body) <= 400 and parse_marker(body) == ("", RUN)
    golden("reporting/comment_truncated.md", body)


def test_truncation_at_the_github_limit():
    text = "x" * 10 + "\n" + "y" * 70_000
    body = render_body(text, watermark="w", run_id=RUN, limit=MAX_COMMENT_CHARS, forge="GitHub")
    assert len(body) <= MAX_COMMENT_CHARS
    assert "65,536 characters" in body
    assert truncate("short", 10, forge="GitLab") == "short"


def test_read_report_errors_are_sentences(tmp_path):
    with pytest.raises(ReportFileError, match="does not exist"):
        read_report(tmp_path / "nope.md")
    with pytest.raises(ReportFileError, match="is a directory"):
        read_report(tmp_path)
    (tmp_path / "bin.md").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReportFileError, match="not UTF-8"):
        read_report(tmp_path / "bin.md")


@pytest.mark.parametrize(("value", "expected"), [
    ("auto", Target("auto")), ("pr", Target("pr")), ("commit", Target("commit")),
    ("pr/12", Target("pr", "12")), ("issue/3", Target("issue", "3")),
    ("commit/abcdef1", Target("commit", "abcdef1")), ("commit/HEAD~1", Target("commit", "HEAD~1")),
    ("commit/main", Target("commit", "main")),
])
def test_targets(value, expected):
    assert parse_target(value) == expected


@pytest.mark.parametrize("value", ["pull/1", "pr/x", "commit/a..b", "commit/-x", "issue/", "",
                                   "auto/1"])
def test_invalid_targets(value):
    with pytest.raises(ContextError):
        parse_target(value)


NOT_ALLOWED = "referenced in the report is not allowed; only .png"


@pytest.mark.parametrize("ref", [
    "/proc/self/environ", "../secret.png", "../../etc/passwd", "notes.txt",
    "../../../../../../../../../etc/passwd", "link.png"])
def test_images_outside_the_workspace_or_of_other_types_are_refused(tmp_path, monkeypatch, ref):
    report_dir = tmp_path / "work" / "reports"
    report_dir.mkdir(parents=True)
    monkeypatch.chdir(report_dir)
    (tmp_path / "work" / "secret.png").write_bytes(png(1, 1, (0, 0, 0)))  # outside both roots
    (report_dir / "notes.txt").write_text("token")
    (report_dir / "fake.png").write_text("TOKEN=abc")
    (report_dir / "link.png").symlink_to(tmp_path / "work" / "secret.png")
    (report_dir / "drawing.svg").write_text("#!/bin/sh\n")
    with pytest.raises(ReportFileError) as caught:
        local_images(f"![x]({ref})", report_dir)
    assert str(caught.value) == f"Image {ref} {NOT_ALLOWED}, .jpg, .jpeg, .gif, .svg and .webp " \
        "image files inside the report's folder or the current directory can be posted."


def test_images_in_the_workspace_or_report_folder_are_accepted(tmp_path, monkeypatch):
    workspace, report_dir = tmp_path / "ws", tmp_path / "ws" / "out" / "report"
    report_dir.mkdir(parents=True)
    monkeypatch.chdir(workspace)
    (workspace / "top.png").write_bytes(png(1, 1, (0, 0, 0)))
    (report_dir / "a.svg").write_text('  <?xml version="1.0"?><svg/>')
    (report_dir / "b.JPG").write_bytes(b"\xff\xd8\xff\xe0rest")
    (report_dir / "c.gif").write_bytes(b"GIF89a....")
    (report_dir / "d.webp").write_bytes(b"RIFF\0\0\0\0WEBPVP8 ")
    refs = ["../../top.png", "a.svg", "b.JPG", "c.gif", "d.webp"]
    found = local_images(" ".join(f"![x]({r})" for r in refs), report_dir)
    assert [i.path for i in found] == [
        workspace / "top.png", *(report_dir / r for r in refs[1:])]


@pytest.mark.parametrize(("name", "kind"), [
    ("fake.png", "PNG"), ("photo.jpg", "JPEG"), ("photo.JPEG", "JPEG"), ("anim.gif", "GIF"),
    ("drawing.svg", "SVG"), ("pic.webp", "WebP")])
@pytest.mark.parametrize("content", [b"TOKEN=abc", b"#!/bin/sh\n", b"", b"RIFF\0\0\0\0WAVE"])
def test_a_file_named_like_an_image_that_is_not_one_is_called_not_an_image(
        tmp_path, monkeypatch, name, kind, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ReportFileError) as caught:
        local_images(f"![x]({name})", tmp_path)
    assert str(caught.value) == (
        f"Image {name} referenced in the report is not an image: its content is not {kind}; "
        "regenerate it, or fix the path if it names the wrong file.")


def _fits(text: str, limit: int) -> str:
    cut = truncate(text, limit, forge="GitHub")
    assert len(cut) <= limit and "this report was cut" in cut
    return cut.split("\n\n---\n> **Note:**")[0]


@pytest.mark.parametrize("text", [
    "x" * 10 + "\n" + "y" * 5_000,  # a long paragraph after an early line break
    "y" * 5_000,  # no break at all
    "short line\n" + "word " * 1_000,  # words
    "# Title\n\n" + "a long paragraph " * 300 + "\n\nnext",
], ids=["early-break", "no-break", "words", "paragraph"])
def test_truncation_keeps_nearly_everything_that_fits(text):
    kept = _fits(text, 2_000)
    assert len(kept) >= 2_000 - 300, len(kept)  # the note is ~170 characters
    assert text.startswith(kept)


def test_truncation_cuts_at_a_line_when_one_is_near_and_at_a_word_else():
    table = "| a | b |\n" * 500
    assert _fits(table, 1_000).endswith("| a | b |")
    words = "alpha beta gamma " * 200
    kept = _fits(words, 1_000)
    assert kept.split(" ")[-1] in ("alpha", "beta", "gamma")


@pytest.mark.parametrize(("fence", "closer"), [
    ("```", "```"), ("```python", "```"), ("~~~", "~~~"), ("````", "````"), ("   ```", "```"),
    ("~~~~ yaml", "~~~~")])
def test_an_open_code_fence_is_closed_before_the_note(fence, closer):
    text = "Log:\n\n" + fence + "\n" + "line of output\n" * 500 + closer.strip() + "\n\nafter"
    cut = truncate(text, 1_000, forge="GitHub")
    head, note = cut.split("\n\n---\n> **Note:**")
    assert len(cut) <= 1_000
    assert head.endswith("\n" + closer), head[-40:]
    assert note.startswith(" this report was cut")


@pytest.mark.parametrize("text", [
    "```\nclosed\n```\n" + "plain line\n" * 300,
    "````\n```\nstill inside the outer fence\n````\n" + "plain line\n" * 300,
    "``` not a fence ` because of the backtick\n" + "plain line\n" * 300,
], ids=["closed", "nested", "backtick-info"])
def test_a_closed_fence_is_not_closed_again(text):
    head = _fits(text, 800)
    assert head.endswith("plain line")
