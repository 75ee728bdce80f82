"""Stack config is as strict as the flags: every pool setting and project default has one
type, and a value of another type is one sentence naming the pool (or default) and setting."""

from __future__ import annotations

import pytest

from infra.errors import SpecError
from infra.settings import CONFIG_KEYS, DEFAULT_KEYS, STACK_KEYS, default_kwargs, pool_kwargs
from infra.spec import pools_from_config

# What each type must be, as the sentence says it.
WANTED = {
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number such as 0.5",
    "string": "a string",
    "duration": "a duration such as 30s, 5m or 2h",
    "strings": "a list of strings",
    "url": "a web address such as https://gitlab.example.com",
    "stack": "a stack name of 1 to 100 letters, digits, '-', '_' and '.'",
}
# Values of another type, each with the words the sentence names it by.
WRONG = {
    "bool": [("false", "the string 'false'"), ("no", "the string 'no'"), (0, "the number 0"),
             (1, "the number 1"), (None, "null"), ([True], "a list holding true"),
             ({}, "a mapping")],
    "int": [(2.7, "the number 2.7"), ("2", "the string '2'"), (True, "true"), (None, "null"),
            ([2], "a list holding the number 2"), ({"n": 2}, "a mapping")],
    "number": [("0.5", "the string '0.5'"), (False, "false"), (None, "null"),
               ([0.5], "a list holding the number 0.5")],
    "string": [(5, "the number 5"), (2.5, "the number 2.5"), (True, "true"), (None, "null"),
               (["a"], "a list"), ({}, "a mapping")],
    "duration": [(300, "the number 300"), ("300", "the string '300'"),
                 ("5 minutes", "the string '5 minutes'"), ("1d", "the string '1d'"),
                 (True, "true"), (None, "null"), (["5m"], "a list")],
    "strings": [("a,b", "the string 'a,b'"), ("nvidia-smi", "the string 'nvidia-smi'"),
                ([1], "a list holding the number 1"), (["a", None], "a list holding null"),
                (5, "the number 5"), (False, "false"), (None, "null"), ({}, "a mapping")],
    "url": [("github.com", "the string 'github.com'"), ("ftp://x.org", "the string 'ftp://x.org'"),
            ("http://[x", "the string 'http://[x'"), (5, "the number 5"), (None, "null")],
    "stack": [("a b", "the string 'a b'"), ("org/dev", "the string 'org/dev'"),
              ("x" * 101, f"the string '{'x' * 101}'"), (5, "the number 5"), (None, "null")],
}
KINDS = {**{key: kind for key, (_, kind) in CONFIG_KEYS.items()}, **STACK_KEYS}


def test_every_setting_has_a_type_the_tests_know():
    assert set(KINDS.values()) | {kind for _, kind in DEFAULT_KEYS.values()} <= set(WRONG)


@pytest.mark.parametrize(("key", "value", "words"), [
    (key, value, words) for key, kind in KINDS.items() for value, words in WRONG[kind]])
def test_every_pool_setting_refuses_another_type(key, value, words):
    entry = {"name": "gpu", key: value}
    where = "Pool 1 of cml-infra:pools" if key == "name" else "Pool 'gpu'"
    with pytest.raises(SpecError) as info:
        pools_from_config([entry], {})
    example = {"labels": " such as [gpu, l4]", "extraCommands": " such as ['nvidia-smi -L']"}
    assert str(info.value) == (f"{where}: {key} must be {WANTED[KINDS[key]]}"
                               f"{example.get(key, '')}, not {words}.")


# One value of the right type per setting; pool_kwargs hands it on as it is.
RIGHT = {"bool": True, "int": 2, "number": 0.5, "string": "x", "duration": "90m",
         "strings": ["a", "b"], "url": "https://gitlab.example.com", "stack": "platform.bases_1"}


@pytest.mark.parametrize("key", sorted(KINDS))
def test_every_pool_setting_takes_its_type(key):
    kwargs = pool_kwargs({key: RIGHT[KINDS[key]]}, "Pool 'gpu'")
    assert kwargs == ({} if key in STACK_KEYS else {CONFIG_KEYS[key][0]: RIGHT[KINDS[key]]})


def test_a_whole_float_is_refused_for_a_whole_number_setting_as_2_7_is():
    for key in ("count", "diskSize", "gpuCount"):
        with pytest.raises(SpecError) as info:
            pool_kwargs({key: 2.0}, "Pool 'gpu'")
        assert str(info.value) == (f"Pool 'gpu': {key} must be a whole number, not the number "
                                   "2.0.")


def _typo(key: str) -> str:
    """A likely slip: snake_case for a camelCase key, else a stray plural s."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    return snake if snake != key else key + "s"


@pytest.mark.parametrize("key", sorted(KINDS))
def test_an_unknown_setting_names_the_closest_one(key):
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "gpu", _typo(key): 1}], {})
    assert str(info.value) == f"Pool 'gpu': unknown setting {_typo(key)!r}; did you mean {key!r}?"


def test_an_unknown_setting_far_from_every_one_lists_them():
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "gpu", "xyzzy": "blue"}], {})
    assert str(info.value).startswith("Pool 'gpu': unknown setting 'xyzzy'; the settings are: "
                                      "name, cloud, region, zone, size, type, gpu, gpuModel,")


def test_size_and_type_are_one_setting():
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "gpu", "size": "s", "type": "m"}], {})
    assert str(info.value) == "Pool 'gpu': size and type are the same setting; keep one of them."


def test_an_entry_that_is_no_mapping_is_named_by_position():
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "a1"}, "gpu"], {})
    assert str(info.value).startswith("Pool 2 of cml-infra:pools: each entry of "
                                      "cml-infra:pools must be a mapping")


@pytest.mark.parametrize(("key", "value", "words"), [
    (key, value, words) for key, (_, kind) in DEFAULT_KEYS.items()
    for value, words in WRONG[kind] if value is not None])
def test_every_project_default_refuses_another_type(key, value, words):
    with pytest.raises(SpecError) as info:
        default_kwargs({key: value})
    wanted = WANTED[DEFAULT_KEYS[key][1]]
    assert str(info.value) == f"cml-infra:{key} must be {wanted}, not {words}."


@pytest.mark.parametrize("cloud", ["moon", "local", "AWS"])
def test_the_default_cloud_is_one_of_the_clouds(cloud):
    with pytest.raises(SpecError) as info:
        default_kwargs({"defaultCloud": cloud})
    assert str(info.value) == ("cml-infra:defaultCloud must be one of aws, gcp, azure, alicloud, "
                               f"not the string {cloud!r}.")


def test_project_defaults_of_their_type_become_build_spec_keywords():
    given = {"defaultCloud": "gcp", "defaultRegion": "eu-west", "maxRuntime": "4h",
             "idleTimeout": "10m", "forgeUrl": "https://github.com"}
    assert default_kwargs({**given, "unset": None}) == {
        "cloud": "gcp", "region": "eu-west", "max_runtime": "4h", "idle_timeout": "10m",
        "forge_url": "https://github.com"}
    assert default_kwargs({key: None for key in DEFAULT_KEYS}) == {}


@pytest.mark.parametrize(("repo", "forge", "path", "url"), [
    ("https://gitlab.example.com/group/sub/proj", "gitlab", "group/sub/proj",
     "https://gitlab.example.com"),
    ("https://ghe.example.com/acme/models.git", "github", "acme/models",
     "https://ghe.example.com"),
])
def test_a_pool_repo_url_names_its_forge_over_the_project_default(repo, forge, path, url):
    [spec] = pools_from_config([{"name": "gpu", "forge": forge, "repo": repo}],
                               {"forge_url": "https://github.com"})
    assert (spec.repo, spec.forge_url) == (path, url)


# ---- the forge settings of a stack and pool values `up` refuses (user-view review) ----

@pytest.mark.parametrize(("values", "message"), [
    ({"forgeApiUrl": "notaurl"}, "cml-infra:forgeApiUrl must be a web address such as "
                                 "https://gitlab.example.com, not the string 'notaurl'."),
    ({"forgeApiUrl": "ftp://x"}, "cml-infra:forgeApiUrl must be a web address"),
    ({"gitlabRunnerUrl": "ftp://x"}, "cml-infra:gitlabRunnerUrl must be a web address"),
    ({"gitlabRunnerSha256": "xyz"}, "cml-infra:gitlabRunnerSha256 must be a SHA-256 checksum of "
                                    "64 hexadecimal digits, not the string 'xyz'."),
    ({"gitlabRunnerSha256": "ab" * 31}, "cml-infra:gitlabRunnerSha256 must be a SHA-256"),
])
def test_the_forge_settings_are_checked_as_up_checks_its_flags(values, message):
    from infra.settings import forge_values

    with pytest.raises(SpecError) as info:
        forge_values(values)
    assert str(info.value).startswith(message)


def test_good_forge_settings_are_taken():
    from infra.settings import forge_values

    given = {"forgeApiUrl": "https://ghe.example.com/api/v3", "gitlabRunnerSha256": "AB" * 32}
    assert forge_values(given) == {**given, "gitlabRunnerUrl": None}


@pytest.mark.parametrize(("entry", "message"), [
    ({"forgeUrl": "http://github.com"}, "--forge-url (forgeUrl) 'http://github.com' is not "
                                        "GitHub's address; github.com is served over https://"),
    ({"forgeUrl": "https://github.com/acme"}, "--forge-url (forgeUrl) 'https://github.com/acme' "
                                              "is not a forge's web address"),
    ({"forgeUrl": "https://gitlab.com"}, "--forge-url (forgeUrl) 'https://gitlab.com' is GitLab; "
                                         "add --forge gitlab"),
    ({"labels": []}, "A runner label is empty;"),
    ({"labels": [""]}, "A runner label is empty;"),
    ({"labels": ["gpu", " "]}, "A runner label is empty;"),
])
def test_a_pool_value_up_refuses_is_refused_in_stack_config(entry, message):
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "gpu", **entry}], {})
    assert str(info.value).startswith(message)
