"""A sandbox that runs rendered startup scripts for real, with nothing real to break.

`servers.py` holds the fake forge (static runner packages; for GitLab, the fake GitLab of
tests/fakes) and the fake cloud (metadata, spot notices, identity tokens, GCP/Azure delete
and Azure deallocate endpoints, and in `ecs.py` Alibaba's signature-checking ECS API), all on
tests/fakes/http.py's `FakeServer`; `stubs.py`
writes the commands that would touch the host (`shutdown`, `iptables`, `useradd`, `su`,
`apt-get`, `ubuntu-drivers`, ...)
and the runner stubs (`run.sh`, `config.sh`, `gitlab-runner`), which model what the script
relies on in the real runners; `runner.py` ties them together, and its `ArgvWatch` samples
every process's command line for the registration while a scenario runs.
"""
