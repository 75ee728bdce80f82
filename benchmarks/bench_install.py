"""Cold `pip install` of what a runner job needs, against the same plus vl-convert-python.

Usage: python benchmarks/bench_install.py [--runs N] [--extras aws] [--breakdown]

A runner job (`up`, `down`, `status`, `gc`) installs `cml-infra[aws]` (or its cloud's
extra). Each run creates a fresh virtual environment (`python -m venv`, not timed) and times
`pip install --no-cache-dir` of the local checkout with that extra: pip builds the checkout's
wheel with hatchling in an isolated environment and downloads every dependency, as a CI job
with an empty cache does. The baseline, measured in the same run and alternated with it run
by run, is the same install plus `vl-convert-python`: what every job paid while plotting was
a core dependency. Reported: median wall time of each, their ratio, the median CPU time
(user + system, of pip and every process it starts: steadier than wall time on a shared
machine, and without the network), and the size of the environment's site-packages
(MB = 10^6 bytes, pip and setuptools included).

--breakdown adds one run each of: building the checkout's wheel alone, the install from that
pre-built wheel (what a release on PyPI gives), and the install without byte-compiling.
The runner job installs as the composite action does (action.yml): `pip install
--no-compile`, since byte-compiling every module of the cloud SDK is two thirds of a cold
install and a command imports a few hundred of them; Python compiles those on first import.
So each run also times the job's first command, `cml-infra up --cloud aws --gpu --dry-run`
(which imports the cloud SDK), and the table gives install + first command as well, so
that no cost is hidden by moving it. The baseline installs as pip does by default.
Target: median under 20 s for the runner job's install.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_EXTRA = "vl-convert-python>=1.7,<2"  # the core dependency that became the plots extra
TARGET_S = 20.0
PIP = ["-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
       "--progress-bar", "off", "--quiet"]


def fresh_venv(parent: Path) -> Path:
    """A new virtual environment under `parent`; its python."""
    venv = Path(tempfile.mkdtemp(dir=parent))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv / "bin" / "python"


def site_packages(python: Path) -> Path:
    probe = "import sysconfig; print(sysconfig.get_path('purelib'))"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return Path(out.strip())


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def largest(path: Path, count: int = 5) -> list[tuple[str, float]]:
    """The `count` largest top-level entries of `path`, in MB."""
    sizes = [(entry.name, (tree_bytes(entry) if entry.is_dir() else entry.stat().st_size) / 1e6)
             for entry in path.iterdir()]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_install(parent: Path, requirements: list[str],
                  *flags: str) -> tuple[float, float, Path]:
    """Wall and CPU seconds of one cold `pip install` into a fresh environment, and its
    site-packages."""
    python = fresh_venv(parent)
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run([str(python), *PIP, *flags, *requirements], check=True)
    return time.perf_counter() - start, children_cpu() - cpu, site_packages(python)


FIRST_COMMAND = ["up", "--cloud", "aws", "--gpu", "--dry-run"]


def timed_first_command(site: Path) -> float:
    """Wall seconds of the job's first command in the environment of `site`."""
    script = site.parents[2] / "bin" / "cml-infra"
    start = time.perf_counter()
    subprocess.run([str(script), *FIRST_COMMAND], check=True, capture_output=True,
                   cwd=site.parents[3])
    return time.perf_counter() - start


def build_wheel(parent: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds to build the checkout's wheel as pip does (isolated hatchling, no
    cache)."""
    python = fresh_venv(parent)
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run([str(python), "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                    "--disable-pip-version-check", "--progress-bar", "off", "--quiet",
                    "-w", str(out), str(ROOT)], check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--extras", default="aws", help="the extras of the runner job's install")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the wheel build, a pre-built wheel, and --no-compile")
    args = parser.parse_args()
    candidate = [f"{ROOT}[{args.extras}]"]
    baseline = [*candidate, BASELINE_EXTRA]
    times: dict[str, list[float]] = {"candidate": [], "baseline": []}
    firsts: dict[str, list[float]] = {"candidate": [], "baseline": []}
    how = {"candidate": ("--no-compile",), "baseline": ()}
    cpus: dict[str, list[float]] = {"candidate": [], "baseline": []}
    sizes: dict[str, float] = {}
    biggest: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        parent = Path(tmp)
        for run in range(args.runs):
            for name, requirements in (("candidate", candidate), ("baseline", baseline)):
                seconds, cpu, site = timed_install(parent, requirements, *how[name])
                times[name].append(seconds)
                firsts[name].append(timed_first_command(site))
                cpus[name].append(cpu)
                sizes[name] = tree_bytes(site) / 1e6
                if name == "candidate" and not biggest:
                    biggest = largest(site)
                print(f"run {run + 1}: {name} {seconds:.1f} s, CPU {cpu:.1f} s, "
                      f"{sizes[name]:.0f} MB, first command {firsts[name][-1]:.1f} s",
                      file=sys.stderr)
        extra_rows = []
        if args.breakdown:
            wheels = parent / "wheels"
            build = build_wheel(parent, wheels)
            wheel = next(wheels.glob("cml_infra-*.whl"))
            from_wheel = timed_install(parent, [f"{wheel}[{args.extras}]"])[:2]
            no_compile = timed_install(parent, candidate)[:2]
            extra_rows = [
                ("building the checkout's wheel alone (`pip wheel --no-deps`)", *build),
                (f"`pip install` of the pre-built wheel with `[{args.extras}]`", *from_wheel),
                (f"`pip install .[{args.extras}]` (byte-compiling everything)", *no_compile),
            ]

    cand, base = statistics.median(times["candidate"]), statistics.median(times["baseline"])
    cand_cpu, base_cpu = statistics.median(cpus["candidate"]), statistics.median(cpus["baseline"])
    both = {name: statistics.median(t + f for t, f in zip(times[name], firsts[name],
                                                            strict=True))
            for name in times}
    print("| install (fresh venv, `--no-cache-dir`) | median wall (s) | median CPU (s) | "
          "install + first command (s) | runs | site-packages (MB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| `pip install --no-compile .[{args.extras}]`, the runner job | {cand:.1f} | "
          f"{cand_cpu:.1f} | {both['candidate']:.1f} | {args.runs} "
          f"| {sizes['candidate']:.0f} |")
    print(f"| baseline: `pip install .[{args.extras}] {BASELINE_EXTRA}` | {base:.1f} | "
          f"{base_cpu:.1f} | {both['baseline']:.1f} | {args.runs} | {sizes['baseline']:.0f} |")
    print(f"\nratio {cand / base:.2f}x wall, {cand_cpu / base_cpu:.2f}x CPU; saved "
          f"{base - cand:.1f} s and "
          f"{sizes['baseline'] - sizes['candidate']:.0f} MB per job")
    print("largest in site-packages: "
          + ", ".join(f"{name} {mb:.0f} MB" for name, mb in biggest))
    if extra_rows:
        print("\n| breakdown (one run each) | wall (s) | CPU (s) |\n| --- | --- | --- |")
        for label, seconds, cpu in extra_rows:
            print(f"| {label} | {seconds:.1f} | {cpu:.1f} |")
    ok = cand < TARGET_S
    print(f"\ntarget < {TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
