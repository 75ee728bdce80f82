"""The second user-view review of `up`, `down`, `status`, `gc` and stack config: each problem
fixed as a class, each class enumerated here (one sentence, non-zero exit, no traceback)."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.errors import SpecError
from infra.settings import DEFAULT_KEYS, POOLS_SHAPE, STACK_SETTINGS, check_setting_keys
from tests.conftest import ROOT
from tests.test_infra_program_config import run_main
from tests.test_stack_config_plan import stack_file

POOL = {"name": "p1", "repo": "acme/models"}  # a pool tests.register_mocks has a base for


@pytest.fixture
def cli(main_cli, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """`main_cli` (tests/conftest.py), in `tmp_path`, with no pulumi to find or install."""
    monkeypatch.setenv("CML_INFRA_NO_PULUMI_INSTALL", "1")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(tmp_path)
    return main_cli


def one_sentence(code: int, out: str, err: str, sentence: str) -> None:
    assert code != 0 and out == "", (code, out, err)
    assert err == f"Error: {sentence}\n", err
    assert "Traceback" not in err


# ---- 1. cml-infra:pools of another type: the list/mapping sentence ----------------------

NOT_POOLS = ['"a"', "3", "2.5", "true", "false", "'[1'", "{}", "[]", "{name: gpu}"]


@pytest.mark.parametrize("value", NOT_POOLS)
def test_pools_that_are_no_list_are_one_sentence_in_the_plan(value, tmp_path, cli):
    path = stack_file(tmp_path, f"config:\n  cml-infra:pools: {value}\n")
    one_sentence(*cli("up", "--dry-run", "--stack-config", str(path)), POOLS_SHAPE)


@pytest.mark.parametrize("value", ["a", "3", "true", "{", "{}", "[]", '"x"'])
def test_pools_that_are_no_list_are_one_sentence_in_pulumi_up(value):
    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": value})
    assert str(info.value) == POOLS_SHAPE


@pytest.mark.parametrize("config", [{}, {"cml-infra:pools": "null"}])
def test_no_pools_is_one_sentence_in_pulumi_up(config):
    with pytest.raises(SpecError) as info:
        run_main(config)
    assert str(info.value) == ("cml-infra:pools is not set; declare the pools under config: in "
                               "Pulumi.<stack>.yaml, as examples/Pulumi.dev.yaml does.")


# ---- 2. unknown cml-infra: keys, with the closest known one ----------------------------

TYPOS = [("maxRunTime", "maxRuntime"), ("defaultClod", "defaultCloud"), ("pool", "pools"),
         ("idletimeout", "idleTimeout"), ("forgeURL", "forgeUrl"), ("knd", "kind"),
         ("forgetoken", "forgeToken"), ("gitlabRunnerSha", "gitlabRunnerSha256")]


@pytest.mark.parametrize(("typo", "meant"), TYPOS)
def test_an_unknown_setting_is_refused_in_the_plan(typo, meant, tmp_path, cli):
    path = stack_file(tmp_path, {"cml-infra:pools": [POOL], f"cml-infra:{typo}": "x"})
    one_sentence(*cli("up", "--dry-run", "--stack-config", str(path)),
                 f"Unknown setting 'cml-infra:{typo}' in the stack config; did you mean "
                 f"'cml-infra:{meant}'?")


@pytest.mark.parametrize(("typo", "meant"), TYPOS)
def test_an_unknown_setting_is_refused_by_pulumi_up(typo, meant):
    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": json.dumps([POOL]), f"cml-infra:{typo}": "x"})
    assert str(info.value) == (f"Unknown setting 'cml-infra:{typo}' in the stack config; did "
                               f"you mean 'cml-infra:{meant}'?")


def test_a_bare_key_is_the_projects_and_an_encrypted_typo_is_refused_too(tmp_path, cli):
    for text in ("config:\n  pools: [{name: gpu, repo: acme/models}]\n  maxRunTime: 5h\n",
                 "config:\n  pools: [{name: gpu, repo: acme/models}]\n"
                 "  cml-infra:maxRunTime: {secure: v1:abc}\n"):
        path = stack_file(tmp_path, text)
        one_sentence(*cli("up", "--dry-run", "--stack-config", str(path)),
                     "Unknown setting 'cml-infra:maxRunTime' in the stack config; did you "
                     "mean 'cml-infra:maxRuntime'?")


def test_a_far_unknown_setting_lists_the_settings():
    with pytest.raises(SpecError) as info:
        check_setting_keys(["cml-infra:zzzzzz"])
    assert str(info.value).startswith("Unknown setting 'cml-infra:zzzzzz' in the stack "
                                      "config; the settings are: cml-infra:pools, ")


def test_other_namespaces_and_every_known_key_are_left_alone(tmp_path):
    check_setting_keys(["aws:region", "gcp:project", "azure-native:location", "pulumi:tags",
                        *(f"cml-infra:{key}" for key in STACK_SETTINGS),
                        "cml-infra:config:pools"])
    run_main({"cml-infra:pools": json.dumps([POOL]), "aws:region": "us-east-1",
              "gcp:project": "p"})


def test_every_key_pulumi_yaml_declares_is_one_the_program_reads():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert {key.split(":", 1)[1] for key in declared} == set(DEFAULT_KEYS)
    assert set(DEFAULT_KEYS) <= set(STACK_SETTINGS)


def test_a_key_a_projects_pulumi_yaml_declares_is_known(tmp_path, cli):
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["config"]["cml-infra:team"] = {"type": "string", "default": "ml"}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(project))
    path = stack_file(tmp_path, {"cml-infra:pools": [POOL], "cml-infra:team": "ml"},
                      project=tmp_path / "project.yaml")
    code, _, err = cli("up", "--dry-run", "--stack-config", str(path))
    assert code == 0 and "Error" not in err, err


# ---- 3. duration flags have a maximum, named in --help ---------------------------------

TOO_LONG = [
    (("up", "--wait-timeout", "9999h"),
     "--wait-timeout may be at most the maximum runtime (6h), not 9999h; lower it."),
    (("up", "--wait-timeout", "7h"),
     "--wait-timeout may be at most the maximum runtime (6h), not 7h; lower it."),
    (("up", "--wait-timeout", "3h", "--max-runtime", "2h"),
     "--wait-timeout may be at most the maximum runtime (2h), not 3h; lower it."),
    (("up", "--no-wait", "--wait-timeout", "9999h"),
     "--wait-timeout may be at most the maximum runtime (6h), not 9999h; lower it."),
    (("gc", "--grace", "10000h"), "--grace may be at most 168h (7 days), not 10000h; lower it."),
    (("gc", "--lock-age", "169h"),
     "--lock-age may be at most 168h (7 days), not 169h; lower it."),
    (("down", "--lock-wait", "999h"),
     "--lock-wait may be at most 168h (7 days), not 999h; lower it."),
]


@pytest.mark.parametrize(("args", "sentence"), TOO_LONG)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_duration_past_its_maximum_is_one_sentence(args, sentence, dry_run, cli):
    extra = ["--dry-run"] * dry_run if args[0] != "down" else []
    one_sentence(*cli(*args, *extra, "--repo", "acme/models") if args[0] == "up"
                 else cli(*args, *extra), sentence)


@pytest.mark.parametrize(("args", "limit"), [
    (("up",), "at most the --max-runtime"), (("gc",), "at most 7 days, 168h"),
    (("down",), "at most 7 days, 168h")])
def test_help_names_each_limit(args, limit, cli):
    code, out, _ = cli(*args, "--help")
    assert code == 0 and limit in " ".join(out.split())
    if args[0] == "gc":
        assert " ".join(out.split()).count(limit) == 2  # --grace and --lock-age


def test_the_default_wait_is_cut_to_a_short_runtime_and_the_limit_itself_passes(cli):
    from cml_cli.up_support import wait_seconds

    assert wait_seconds(True, "10m", 120, given=False) == 120
    assert wait_seconds(True, "6h", 6 * 3600) == 6 * 3600
    assert wait_seconds(False, "1h", 6 * 3600) is None
    code, _, err = cli("up", "--dry-run", "--max-runtime", "2m", "--idle-timeout", "1m",
                       "--repo", "acme/models")
    assert (code, err) == (0, ""), err


# ---- 4. one token checker: every --token-file and token variable -----------------------

BAD_TOKENS = [
    (b"", "is empty; write the forge token into it."),
    (b"  \n", "is empty; write the forge token into it."),
    (b"abc def", "contains spaces or control characters, so it is not a single token; "),
    (b"abc\tdef", "contains spaces or control characters, so it is not a single token; "),
    (b"abc\x00def", "contains spaces or control characters, so it is not a single token; "),
    (b"abc\n", "ends with a line break; write it with printf '%s' (echo adds one), or strip it."),
    (b"abc\r\n", "ends with a line break; write it with printf '%s' (echo adds one), or strip "
                 "it."),
    (b" abc", "has whitespace at its start or end; store it without (printf '%s' rather than "
              "echo)."),
    (b"abc \n", "has whitespace at its start or end; store it without (printf '%s' rather "
                "than echo)."),
    (b"abc\ndef\n", "contains spaces or control characters, so it is not a single token; "),
]


@pytest.mark.parametrize(("content", "words"), BAD_TOKENS)
@pytest.mark.parametrize("command", [("up", "--dry-run"), ("up",), ("down",), ("status",),
                                     ("gc",), ("gc", "--dry-run")])
def test_every_token_file_is_checked_alike(content, words, command, tmp_path, cli):
    path = tmp_path / "token"
    path.write_bytes(content)
    extra = ["--repo", "acme/models"] if command[0] == "up" else []
    code, out, err = cli(*command, *extra, "--token-file", str(path))
    assert code == 1 and out == "" and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"Error: The token from --token-file {path} {words}"), err


def test_a_non_text_token_file_and_dev_null(tmp_path, cli):
    path = tmp_path / "token"
    path.write_bytes(b"\xff\xfe\x00")
    for command in (("up", "--dry-run"), ("up",), ("down",), ("status",), ("gc",)):
        one_sentence(*cli(*command, "--token-file", str(path)),
                     f"The token file {path} is not a text file; write the forge token into it "
                     "as text.")
    one_sentence(*cli("up", "--dry-run", "--repo", "acme/models", "--token-file", "/dev/null"),
                 "The token from --token-file /dev/null is empty; write the forge token into "
                 "it.")


@pytest.mark.parametrize("variable", ["REPO_TOKEN", "GITHUB_TOKEN"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_token_variable_is_checked_alike(variable, dry_run, cli):
    code, out, err = cli("up", "--repo", "acme/models", *["--dry-run"] * dry_run,
                         **{variable: "abc def"})
    one_sentence(code, out, err, f"The token from {variable} contains spaces or control "
                 f"characters, so it is not a single token; check what {variable} holds.")
    code, out, err = cli("down", REPO_TOKEN="abc\n")
    one_sentence(code, out, err, "The token from REPO_TOKEN ends with a line break; write it "
                 "with printf '%s' (echo adds one), or strip it.")


def test_a_good_token_file_passes_the_dry_run_and_the_token_checks(tmp_path, cli):
    path = tmp_path / "token"
    path.write_text("ghp_" + "a" * 36)
    code, _, err = cli("up", "--dry-run", "--repo", "acme/models", "--token-file", str(path))
    assert (code, err) == (0, ""), err
    code, _, err = cli("up", "--repo", "acme/models", "--token-file", str(path))
    assert code == 1 and "set REPO_TOKEN" not in err  # the passphrase and the CLI are missing


# ---- 5. SSH remotes as --repo and a pool's repo, the same as comment's -----------------

SSH_REPOS = [
    ("github", "git@github.com:acme/models.git", "acme/models", "https://github.com"),
    ("github", "git@github.com:acme/models", "acme/models", "https://github.com"),
    ("github", "ssh://git@github.com/acme/models", "acme/models", "https://github.com"),
    ("github", "ssh://git@github.com:22/acme/models.git", "acme/models", "https://github.com"),
    ("github", "git@ghe.example.com:acme/models.git", "acme/models", "https://ghe.example.com"),
    ("gitlab", "git@gitlab.com:group/sub/proj.git", "group/sub/proj", "https://gitlab.com"),
    ("gitlab", "ssh://git@gitlab.example.com:2222/ml/eval.git", "ml/eval",
     "https://gitlab.example.com"),
]


@pytest.mark.parametrize(("forge", "repo", "path", "url"), SSH_REPOS)
def test_ssh_remotes_mean_what_comment_reads_them_as(forge, repo, path, url, cli, tmp_path):
    from infra.rules import parse_repo
    from reporting.validate import parse_repo as reporting_parse

    assert parse_repo(forge, repo) == (url, path)
    assert reporting_parse(repo, forge) == (url, path)
    code, out, err = cli("up", "--forge", forge, "--repo", repo, "--dry-run")
    assert (code, err) == (0, ""), err
    assert f"  runners     {forge}, repository {path} on {url};" in out
    code, _, err = cli("up", "--forge", forge, "--repo", repo)  # the real up: to prerequisites
    assert code == 1 and err.startswith("Error: Before cml-infra up can run: "), err
    pool = {"name": "gpu", "forge": forge, "repo": repo}
    config = stack_file(tmp_path / forge, {"cml-infra:pools": [pool]})
    code, out, err = cli("up", "--dry-run", "--stack-config", str(config), "--json")
    assert code == 0, err
    summary = json.loads(out)["pools"][0]["summary"]
    assert (summary["repo"], summary["forgeUrl"]) == (path, url)


@pytest.mark.parametrize("repo", ["ssh://git:hunter2@github.com/acme/models",
                                  "https://user:hunter2@github.com/acme/models"])
def test_a_password_in_a_repository_address_is_still_refused_unechoed(repo, cli):
    code, out, err = cli("up", "--repo", repo, "--dry-run")
    one_sentence(code, out, err, "The repository address holds credentials; drop them from "
                 "the URL and give the token through REPO_TOKEN or --token-file.")
    assert "hunter2" not in err


def test_an_ssh_remote_on_the_other_forge_is_refused(cli):
    one_sentence(*cli("up", "--repo", "git@gitlab.com:group/proj.git", "--dry-run"),
                 "Repository 'https://gitlab.com/group/proj.git' is on GitLab; add --forge "
                 "gitlab (forge: gitlab in stack config).")


# ---- 6. one type per setting: 2.0 is no whole number -----------------------------------

@pytest.mark.parametrize("key", ["count", "gpuCount", "diskSize"])
@pytest.mark.parametrize("value", ["2.0", "2.7", "1e2", "true", "'2'"])
def test_a_whole_number_setting_takes_only_whole_numbers(key, value, tmp_path, cli):
    path = stack_file(tmp_path, f"config:\n  cml-infra:pools:\n    - {{name: gpu, gpu: true, "
                                f"repo: acme/models, {key}: {value}}}\n")
    code, out, err = cli("up", "--dry-run", "--stack-config", str(path))
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"Error: Pool 'gpu': {key} must be a whole number, not "), err


def test_pulumi_up_refuses_a_float_that_reaches_the_program():
    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": '[{"name": "p1", "repo": "a/b", "count": 2.0}]'})
    assert str(info.value) == "Pool 'p1': count must be a whole number, not the number 2.0."


# ---- 7. the JSON plan's summary; prices as written, with their unit ---------------------

@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure", "alicloud"])
def test_the_json_plan_starts_with_the_text_plans_summary(cloud, cli):
    code, out, _ = cli("up", "--cloud", cloud, "--gpu", "--dry-run", "--json")
    assert code == 0
    document = json.loads(out)
    assert next(iter(document)) == "summary"
    assert {"stacks", "resources", "reads", "invokes"} <= set(document)
    summary = document["summary"]
    assert summary["stack"] == "cml-runner" and summary["pool"] == "cml-runner"
    assert summary["base"] == f"cml-infra-base-cml-runner-{cloud}-{summary['region']}"
    assert summary["gpuModel"] == "t4" and summary["gpuCount"] == 1 and summary["machineType"]
    assert summary["spot"] is False and summary["cloud"] == cloud
    assert summary["expiresIfStartedNow"] and summary["baseAdds"]
    assert summary["repo"] == "" and summary["warnings"] == [
        "no repository is known, so this plan registers the runners with none; pass "
        "--repo OWNER/NAME to plan the real up, which needs one"]
    code, out, _ = cli("up", "--cloud", cloud, "--gpu", "--dry-run", "--json", "--repo", "a/b")
    assert json.loads(out)["summary"]["warnings"] == []


@pytest.mark.parametrize(("cloud", "price", "shown"), [
    ("aws", "2", "spot at most $2/hour"), ("aws", "0.5", "spot at most $0.5/hour"),
    ("azure", "2.0", "spot at most $2/hour"), ("azure", "0.125", "spot at most $0.125/hour"),
    ("alicloud", "3", "spot at most 3 per hour (the account's currency)")])
def test_a_price_is_shown_as_written_with_its_unit(cloud, price, shown, cli):
    code, out, _ = cli("up", "--cloud", cloud, "--gpu", "--spot", "--max-price", price,
                       "--dry-run", "--repo", "a/b")
    assert code == 0 and f", {shown}, pool cml-runner" in out
    code, out, _ = cli("up", "--cloud", cloud, "--gpu", "--spot", "--max-price", price,
                       "--dry-run", "--repo", "a/b", "--json")
    assert json.loads(out)["summary"]["maxPrice"] == json.loads(price)


@pytest.mark.parametrize(("price", "shown"), [("-1", "-1"), ("0", "0"), ("-0.5", "-0.5")])
def test_a_bad_price_is_echoed_as_written(price, shown, cli):
    one_sentence(*cli("up", "--spot", "--max-price", price, "--dry-run"),
                 f"The maximum price must be a positive hourly price such as 0.5, not {shown}.")


# ---- 8. help text and CML's option names ------------------------------------------------

@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_up_help_breaks_no_word(columns, cli):
    code, out, _ = cli("up", "--help", COLUMNS=columns)
    assert code == 0
    lines = out.split("--stack STACK")[1].split("--dry-run")[0].splitlines()
    assert not any(line.rstrip().endswith("-") for line in lines), lines


def test_down_help_says_the_default_pool_once(cli):
    code, out, _ = cli("down", "--help")
    assert code == 0 and " ".join(out.split()).count("cml-runner") == 1


CML_OPTIONS = [("--cloud-region", "us-west", "--region"), ("--cloud-type", "m+t4", "--type"),
               ("--cloud-gpu", "t4", "--gpu-model"), ("--cloud-hdd-size", "50", "--disk-size"),
               ("--cloud-spot", None, "--spot"), ("--cloud-spot-price", "1", "--max-price"),
               ("--cloud-permission-set", "x", "--identity"),
               ("--cloud-startup-script", "x", "--extra-command"), ("--driver", "github",
                                                                    "--forge")]


@pytest.mark.parametrize(("option", "value", "ours"), CML_OPTIONS)
@pytest.mark.parametrize("joined", [False, True])
def test_cmls_option_names_point_to_ours(option, value, ours, joined, cli):
    args = [option] if value is None else [f"{option}={value}"] if joined else [option, value]
    code, out, err = cli("up", "--dry-run", *args)
    assert code == 2 and out == ""
    assert err.startswith(f"Error: {option} is CML's; here it is {ours}"), err
    assert err.endswith("Run 'cml-infra up --help' to see what it accepts.\n")


def test_cmls_single_and_an_unknown_option(cli):
    code, _, err = cli("up", "--single", "--dry-run")
    assert code == 2 and err.startswith("Error: --single is CML's; here a machine takes one "
                                        "job by default, and --idle-mode keeps it")
    code, _, err = cli("up", "--regin", "x", "--dry-run")
    assert code == 2 and err.startswith("Error: No such option: --regin")
    code, _, err = cli("down", "--cloud-region", "x")  # the pointer is up's alone
    assert code == 2 and "CML's" not in err


@pytest.mark.parametrize(("flag", "value", "what", "why"), [
    ("--idle-timeout", "300", "idle timeout", "CML took seconds; cml-infra needs a unit"),
    ("--max-runtime", "7200", "maximum runtime", "a duration needs a unit"),
    ("--wait-timeout", "60", "wait timeout", "a duration needs a unit")])
def test_a_bare_number_of_seconds_asks_for_a_unit(flag, value, what, why, cli):
    one_sentence(*cli("up", flag, value, "--dry-run", "--repo", "a/b"),
                 f"The {what} '{value}' has no unit; write {value}s ({why}), or use m or h.")


def test_readme_states_the_new_limits_and_forms():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "`--wait-timeout` at most the maximum runtime" in text
    assert "`--grace`, `--lock-age` (`gc`) and `--lock-wait` (`down`) at most 7 days" in text
    assert "git@github.com:acme/models.git" in text
    assert "`count: 2.0`" in text
