"""Runner pools as Pulumi stacks: spec, catalog, per-cloud components, startup scripts.

Importing this package is cheap; Pulumi and the cloud SDKs are imported by the modules
that need them, when they need them.
"""
