"""The runners a repository has at its forge, as `status` and `gc` see them: id, name, state.

GitHub: `GET .../actions/runners`, 100 a page (fields `status` online|offline and `busy`):
https://docs.github.com/en/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository
GitLab: `GET /projects/:id/runners?type=project_type` (the project's own runners, not inherited
ones), `description` is the name we gave, `status` online|offline|stale|never_contacted:
https://docs.gitlab.com/api/runners/#list-projects-runners
Vendor errors leave as `ForgeError` with one sentence (infra.forges.runners).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from infra.forges import runners as fr

PAGE = 100
# States in which a runner holds no job and no machine serves it any more.
IDLE_STATES = ("offline", "never_contacted", "stale")


@dataclass(frozen=True)
class ForgeRunner:
    runner_id: str
    name: str
    state: str
    """online, busy, offline, never_contacted or stale."""


class Inventory(Protocol):
    def runners(self) -> list[ForgeRunner]: ...

    def delete(self, runner_id: str) -> None: ...


@dataclass(frozen=True)
class GitHubInventory:
    gh: Any
    scope: fr.GitHubScope

    def runners(self) -> list[ForgeRunner]:
        found: list[ForgeRunner] = []
        page = 1
        while True:
            _, data = fr._github(f"list the runners of {self.scope}", self.scope,
                                 functools.partial(self._page, page))
            items = (data or {}).get("runners", [])
            found += [ForgeRunner(str(r["id"]), r["name"], "busy" if r.get("busy")
                                  else str(r.get("status", "offline"))) for r in items]
            if len(items) < PAGE:
                return found
            page += 1

    def _page(self, page: int) -> Any:
        return self.gh.requester.requestJsonAndCheck(
            "GET", f"{self.scope.path}/actions/runners",
            parameters={"per_page": PAGE, "page": page})

    def delete(self, runner_id: str) -> None:
        fr.delete_github_runner(self.gh, self.scope, int(runner_id))


@dataclass(frozen=True)
class GitLabInventory:
    """A project's own runners, or with `group` a group's (an autoscaled pool of a group:
    https://docs.gitlab.com/api/runners/#list-groups-runners)."""

    gl: Any
    project: str
    """The project's path, or the group's with `group`."""
    group: bool = False

    def runners(self) -> list[ForgeRunner]:
        kind = "group" if self.group else "project"
        managers = self.gl.groups if self.group else self.gl.projects
        owner = fr._gitlab(f"find {kind} {self.project}",
                           lambda: managers.get(self.project, lazy=True))
        items = fr._gitlab(f"list the runners of {self.project}", lambda: owner.runners.list(
            type=f"{kind}_type", get_all=True, per_page=PAGE))
        return [ForgeRunner(str(r.id), str(getattr(r, "description", "") or ""),
                            str(getattr(r, "status", "offline"))) for r in items]

    def delete(self, runner_id: str) -> None:
        fr.delete_gitlab_runner(self.gl, int(runner_id))


def states_of(inventory: Inventory, wanted: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each wanted runner id's state at the forge; `gone` when the forge no longer has it."""
    by_id = {runner.runner_id: runner.state for runner in inventory.runners()}
    return {runner_id: by_id.get(runner_id, "gone") for runner_id, _ in wanted}
