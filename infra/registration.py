"""Where stacks created before the `infra/forges/` layout find their registration provider.

The dynamic provider is stored in each stack's state pickled by reference, as
`infra.registration.RunnerRegistrationProvider`; deleting those registrations (`down`, `gc`,
`pulumi destroy`) unpickles it by that path. Keep this module as long as such stacks may exist.
"""

from infra.forges.registration import RunnerRegistrationProvider

__all__ = ["RunnerRegistrationProvider"]
