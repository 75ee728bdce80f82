"""Errors a user can cause while describing or provisioning runners.

Every exception here carries, as its message, one sentence that says what to do;
the CLI prints it as it is. The tree::

    InfraError
    ├── SpecError          a runner pool description that cannot work
    ├── MissingExtraError  a cloud SDK that is not installed
    ├── StackError         the Pulumi engine refused or failed an operation
    ├── PrerequisiteError  the Pulumi CLI is missing and could not be installed
    ├── ForgeError         GitHub or GitLab refused or failed a runner call
    │   └── ForgeUnsureError  a 5xx or a lost answer: the call may have taken effect
    └── LocalRunError      the runner started by `up --cloud local` ended with an error
"""


class InfraError(Exception):
    """A problem the user can fix; `str()` is one sentence telling how."""


class SpecError(InfraError):
    """A runner pool description that is invalid or impossible on its cloud."""


class MissingExtraError(InfraError):
    """The Pulumi SDK of the requested cloud is not installed."""


class StackError(InfraError):
    """The Pulumi engine refused or failed an operation on a stack."""


class PrerequisiteError(InfraError):
    """A tool cml-infra drives (the Pulumi CLI) is missing and could not be installed."""


class ForgeError(InfraError):
    """GitHub or GitLab refused or failed a call about self-hosted runners."""


class LocalRunError(InfraError):
    """The startup script run by `--cloud local` ended with an error (after cleaning up)."""


class ForgeUnsureError(ForgeError):
    """The forge answered 5xx or the answer was lost: what was asked may have happened."""
