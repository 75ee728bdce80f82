"""Shared set-up of the forge scenario tests: a report with images, CI environments."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

HEAD_SHA = "c0ffee" + "0" * 34
MERGE_SHA = "badf00d" + "0" * 33
PR_NUMBER = 42

METRICS_TABLE = """| metric | main | this PR | delta |
| --- | ---: | ---: | ---: |
| accuracy | 0.912 | 0.925 | +0.013 |
| loss | 0.301 | 0.284 | -0.017 |
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small valid PNG, so the bytes fetched back can be compared."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def write_report(folder: Path, title: str = "Training report") -> Path:
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    (folder / "plots" / "loss.png").write_bytes(png(4, 3, (200, 30, 30)))
    (folder / "confusion.png").write_bytes(png(2, 2, (30, 30, 200)))
    report = folder / "report.md"
    report.write_text(f"# {title}\n\n{METRICS_TABLE}\n![loss curve](plots/loss.png)\n\n"
                      '<img src="confusion.png" width="300" alt="confusion matrix">\n')
    return report


def github_actions_env(fake, tmp_path: Path, token: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": PR_NUMBER,
                                 "pull_request": {"number": PR_NUMBER,
                                                  "head": {"sha": HEAD_SHA, "ref": "feature"}}}))
    return {
        "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_API_URL": fake.api_url, "GITHUB_SERVER_URL": fake.server.url,
        "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": MERGE_SHA, "GITHUB_TOKEN": token, "REPO_TOKEN": "",
        "CML_INFRA_RETRY_BACKOFF": "0.001", **_no_gitlab(),
    }


def _no_gitlab() -> dict[str, str]:
    return {name: "" for name in ("GITLAB_CI", "CI_PROJECT_ID", "CI_PROJECT_PATH", "CI_JOB_TOKEN",
                                  "CI_MERGE_REQUEST_IID", "GITLAB_TOKEN")}


MR_IID = 7


def gitlab_ci_env(fake, token: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A merge request pipeline on a self-managed GitLab."""
    project = fake.projects["acme/models"]
    return {
        "GITLAB_CI": "true", "CI_SERVER_URL": fake.server.url, "CI_API_V4_URL": fake.api_url,
        "CI_PROJECT_ID": str(project.id), "CI_PROJECT_PATH": project.path,
        "CI_MERGE_REQUEST_IID": str(MR_IID), "CI_COMMIT_SHA": HEAD_SHA, "CI_JOB_TOKEN": "",
        "REPO_TOKEN": token, "GITLAB_TOKEN": "", "CML_INFRA_RETRY_BACKOFF": "0.001",
        **{name: "" for name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_TOKEN",
                                 "GITHUB_EVENT_PATH", "GITHUB_API_URL", "GITHUB_SERVER_URL")},
        **extra,
    }
