"""Errors a user can cause while reporting to a forge.

Every exception here carries, as its message, one sentence that says what to do;
the CLI prints it as it is. Forge adapters turn vendor exceptions (PyGithub,
python-gitlab, requests) into these at their boundary. The tree::

    ReportingError
    ├── ContextError      the CI context is incomplete (no token, no repository, bad --target)
    ├── OptionError       flags that cannot go together, or a CML flag that is refused
    ├── ReportFileError   a report, image or metrics file that is missing or malformed
    ├── GateError         a metric gate that does not parse or names no known metric
    ├── BaseRevisionError the base revision cannot be read through git (e.g. a shallow clone)
    └── ForgeError        the forge refused a request
        ├── ForgeAuthError        the token was rejected (401)
        ├── ForgePermissionError  the token lacks a permission (403)
        ├── ForgeNotFoundError    the repository, pull request or commit does not exist
        └── ForgeUnavailableError the forge kept failing (5xx, rate limits, dropped
                                  connections) after every retry; re-running is safe
"""


class ReportingError(Exception):
    """A problem the user can fix; `str()` is one sentence telling how."""


class ContextError(ReportingError):
    """The CI context lacks something the command needs."""


class OptionError(ReportingError):
    """Flags that contradict each other, or a CML flag cml-infra refuses (--publish-url)."""


class ReportFileError(ReportingError):
    """A report, image or metrics file is missing, unreadable or malformed."""


class GateError(ReportingError):
    """A `--fail-if` gate does not parse, or names a metric that no file contains."""


class BaseRevisionError(ReportingError):
    """Git cannot show the base revision: not a repository, or the revision was not fetched."""


class ForgeError(ReportingError):
    """The forge refused a request."""


class ForgeAuthError(ForgeError):
    """The forge rejected the token."""


class ForgePermissionError(ForgeError):
    """The token is valid but lacks a permission."""


class ForgeNotFoundError(ForgeError):
    """The repository, pull request, merge request or commit does not exist."""


class ForgeUnavailableError(ForgeError):
    """The forge kept failing after all retries; nothing was duplicated, so re-running is safe."""
