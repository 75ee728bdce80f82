"""`comment --watch` (and CML's `--trigger-file`): post again on each settled change.

The library loop runs on a scripted clock (its `sleep` advances the script), so no test
waits on wall-clock time; one CLI test runs the real command in the background.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reporting.errors import ForgeAuthError, ForgeUnavailableError, ReportFileError
from reporting.watch import watch
from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_APP_TOKEN
from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, png


class Script:
    """Steps run one per tick (each `sleep`); the watch stops after the last one."""

    def __init__(self, steps: list[Callable[[], None] | None]) -> None:
        self.steps, self.tick, self.said, self.posts = steps, 0, [], []  # type: ignore[var-annotated]

    def sleep(self, seconds: float) -> None:
        step = self.steps[self.tick]
        self.tick += 1
        if step:
            step()

    def keep_going(self) -> bool:
        return self.tick < len(self.steps)

    def run(self, report: Path, post: Callable[[bool], object] | None = None,
            trigger: Path | None = None) -> None:
        watch(report, post or (lambda first: self.posts.append((self.tick, first))),
              say=self.said.append, sleep=self.sleep, keep_going=self.keep_going,
              trigger=trigger, interval=1.0)


def write(path: Path, text: str, stamp: int) -> Callable[[], None]:
    def step() -> None:
        path.write_text(text)
        os.utime(path, ns=(stamp * 10**9, stamp * 10**9))
    return step


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.md"
    write(path, "# v0\n![loss](loss.png)\n", 1)()
    (tmp_path / "loss.png").write_bytes(png(1, 1, (0, 0, 0)))
    return path


def test_nothing_is_posted_until_something_changes(report):
    script = Script([None] * 5)
    script.run(report)
    assert script.posts == []
    assert script.said == [f"Watching {report} for changes; stop with Ctrl-C."]


def test_a_change_is_posted_once_settled_first_as_asked_then_as_updates(report):
    script = Script([write(report, "# v1\n", 2), None, None, write(report, "# v22\n", 3), None,
                     None])
    script.run(report)
    assert script.posts == [(2, True), (5, False)]


def test_a_report_still_being_written_waits_until_it_stops_changing(report):
    script = Script([write(report, "# v" + "1" * n + "\n", 10 + n) for n in range(4)]
                    + [None, None])
    script.run(report)
    assert script.posts == [(5, True)]


def test_a_changed_image_is_a_change_too(report):
    image = report.parent / "loss.png"
    script = Script([lambda: image.write_bytes(png(2, 2, (9, 9, 9))), None])
    script.run(report)
    assert script.posts == [(2, True)]


def test_a_deleted_report_is_not_posted(report):
    script = Script([report.unlink, None, None])
    script.run(report)
    assert script.posts == []


@pytest.mark.parametrize("error", [ReportFileError("Image x.png does not exist."),
                                   ForgeUnavailableError("GitHub kept failing.")])
def test_report_and_availability_problems_are_told_and_watched_past(report, error):
    calls: list[bool] = []

    def post(first: bool) -> None:
        calls.append(first)
        if len(calls) == 1:
            raise error

    script = Script([write(report, "# v1\n", 2), None, write(report, "# v333\n", 3), None])
    script.run(report, post)
    assert calls == [True, True]  # the first post that worked creates or updates as asked
    assert script.said[-1] == f"Not posted: {error} Still watching."


def test_a_rejected_token_ends_the_watch(report):
    def post(first: bool) -> None:
        raise ForgeAuthError("GitHub rejected the token.")

    script = Script([write(report, "# v1\n", 2), None, None, None])
    with pytest.raises(ForgeAuthError):
        script.run(report, post)
    assert script.tick == 2


def test_a_trigger_file_posts_each_time_it_appears_and_is_deleted(report):
    trigger = report.parent / "go"
    script = Script([write(report, "# v1\n", 2), None, write(trigger, "", 3), None, None,
                     write(trigger, "", 4), None])
    script.run(report, trigger=trigger)
    assert script.posts == [(4, True), (7, False)]
    assert not trigger.exists()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60  # a guard against hanging, not an assertion on speed
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("trigger", [False, True])
def test_watch_runs_in_the_background_and_posts_each_change(fake_github, tmp_path, trigger):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    report = tmp_path / "report.md"
    report.write_text("# not yet\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CML_INFRA_WATCH_INTERVAL": "0.1",
           **github_actions_env(fake_github, tmp_path, GITHUB_APP_TOKEN)}
    extra = ["--trigger-file", str(tmp_path / "go")] if trigger else []
    child = subprocess.Popen(
        [sys.executable, "-m", "cml_cli", "comment", "update", str(report), "--watch", *extra],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        assert child.stderr.readline().startswith("Watching ")
        comments = fake_github.comments_on

        for n, text in enumerate(("# accuracy 0.91\n", "# accuracy 0.93 (better)\n")):
            report.write_text(text)
            if trigger:
                (tmp_path / "go").write_text("")
            _wait_for(lambda t=text: [c["body"].endswith(t) for c in comments(
                "acme/models", f"issue/{PR_NUMBER}")] == [True], f"post {n + 1}")
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    watched = tmp_path / "go" if trigger else report  # the file that was being watched for
    assert err.strip().endswith(f"Stopped watching {watched}.")
    assert len(out.splitlines()) == 2  # the comment's URL for each post
    assert fake_github.rejections == []
