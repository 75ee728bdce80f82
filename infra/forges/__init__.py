"""GitHub and GitLab runner APIs: registrations minted for machines, as Pulumi resources
(`registration`) or for this machine (`local`), and the calls both make (`runners`)."""
