"""The credential Secret: key scheme, copying from admin Secrets, files and env refs."""

from __future__ import annotations

import base64

import pytest
from teamhub_spawner.objects import credentials as C
from teamhub_spawner.objects import labels as L

from tests.spawner.objects_support import ADMIN_SECRETS, NS, S3, USER, WANDB, b64, validate

CREDS = [("vision", S3), ("vision", WANDB)]


def secret(creds=CREDS, admin=ADMIN_SECRETS, **kw):
    args = {
        "username": USER,
        "credentials": creds,
        "admin_secrets": admin,
        "oidc_access_token": "oidc-at",
        "jupyterhub_api_token": "hub-token",
    }
    args.update(kw)
    return C.credential_secret(NS, **args)


def decoded(s: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in s["data"].items()}


def test_secret_holds_tokens_and_selected_team_keys():
    s = validate(secret())
    assert decoded(s) == {
        "oidc-access-token": "oidc-at",
        "jupyterhub-api-token": "hub-token",
        "vision.s3.AWS_ACCESS_KEY_ID": "AKIAVISION",
        "vision.s3.AWS_SECRET_ACCESS_KEY": "s3cr3t",
        # keys: null -> every key of the admin Secret, names kept (dots included)
        "vision.wandb.api.key": "wb-key",
        "vision.wandb.settings": "[default]\n",
    }
    assert "vision.s3.UNUSED" not in s["data"]
    assert s["type"] == "Opaque" and "stringData" not in s
    assert s["metadata"]["name"] == "teamhub-credentials"
    assert s["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_CREDENTIALS


def test_admin_values_are_copied_byte_for_byte():
    binary = base64.b64encode(bytes(range(256))).decode()
    s = secret(
        creds=[("nlp", {**S3, "keys": None, "secretName": "bin"})], admin={"bin": {"k": binary}}
    )
    assert s["data"]["nlp.s3.k"] == binary


def test_no_access_token_is_an_empty_file_not_a_missing_key():
    s = secret(oidc_access_token=None)
    assert s["data"]["oidc-access-token"] == ""


def test_named_server_secret_is_labelled_with_the_server():
    s = secret(name="teamhub-credentials--gpu", servername="gpu")
    assert s["metadata"]["labels"][L.SERVER] == "gpu"


def test_same_credential_name_in_two_teams_does_not_collide():
    s = secret(
        creds=[("vision", S3), ("nlp", {**S3, "secretName": "nlp-s3"})],
        admin={
            **ADMIN_SECRETS,
            "nlp-s3": {"AWS_ACCESS_KEY_ID": b64("AKIANLP"), "AWS_SECRET_ACCESS_KEY": b64("x")},
        },
    )
    d = decoded(s)
    assert d["vision.s3.AWS_ACCESS_KEY_ID"] == "AKIAVISION"
    assert d["nlp.s3.AWS_ACCESS_KEY_ID"] == "AKIANLP"


@pytest.mark.parametrize(
    ("creds", "admin", "message"),
    [
        (
            [("vision", {**S3, "keys": ["AWS_ACCESS_KEY_ID", "MISSING"]})],
            ADMIN_SECRETS,
            r"teams\.vision\.credentials\['s3'\]: Secret 'vision-s3' has no key 'MISSING'",
        ),
        (
            [("vision", S3)],
            {},
            r"teams\.vision\.credentials\['s3'\]: the admin Secret 'vision-s3' was not provided",
        ),
        (
            [("vision", S3), ("vision", S3)],
            ADMIN_SECRETS,
            r"teams\.vision\.credentials\['s3'\]: listed twice",
        ),
        (
            [("vision", {**S3, "keys": None, "secretName": "long"})],
            {"long": {"k" * 250: b64("v")}},
            r"teams\.vision\.credentials\['s3'\]: key 'k+' is too long: .* at most 253",
        ),
        (
            [("Vision", S3)],
            ADMIN_SECRETS,
            r"team name: 'Vision' is not a DNS-1123 label",
        ),
    ],
)
def test_bad_credentials_are_named(creds, admin, message):
    with pytest.raises(ValueError, match=message):
        secret(creds=creds, admin=admin)


def test_access_token_patch_rewrites_only_the_token():
    assert C.access_token_patch("new") == {"data": {"oidc-access-token": b64("new")}}


# ------------------------------------------------------------------ files
def test_each_credential_is_a_projected_volume_with_original_file_names():
    s = secret()
    volumes, mounts = C.credential_volumes(s, CREDS)
    s3_vol, wandb_vol = volumes
    assert s3_vol["projected"]["sources"] == [
        {
            "secret": {
                "name": "teamhub-credentials",
                "items": [
                    {"key": "vision.s3.AWS_ACCESS_KEY_ID", "path": "AWS_ACCESS_KEY_ID"},
                    {"key": "vision.s3.AWS_SECRET_ACCESS_KEY", "path": "AWS_SECRET_ACCESS_KEY"},
                ],
            }
        }
    ]
    assert [i["path"] for i in wandb_vol["projected"]["sources"][0]["secret"]["items"]] == [
        "api.key",
        "settings",
    ]
    assert s3_vol["projected"]["defaultMode"] == 0o440
    assert mounts == [
        {
            "name": s3_vol["name"],
            "mountPath": "/var/run/secrets/teamhub/credentials/s3",
            "readOnly": True,
        },
        {"name": wandb_vol["name"], "mountPath": "/home/jovyan/.config/wandb", "readOnly": True},
    ]
    assert not any("subPath" in m for m in mounts)  # subPath Secret mounts never update


def test_credential_without_keys_never_projects_the_whole_secret():
    s = secret(creds=[("vision", {**WANDB, "secretName": "empty"})], admin={"empty": None})
    (vol,), _ = C.credential_volumes(s, [("vision", {**WANDB, "secretName": "empty"})])
    # A secret source without items would project every key (tokens, other teams'
    # credentials); an empty credential gets no source at all.
    assert vol["projected"]["sources"] == []


def test_tokens_volume():
    vol, mount = C.tokens_volume("teamhub-credentials")
    assert vol["projected"]["sources"][0]["secret"]["items"] == [
        {"key": "oidc-access-token", "path": "oidc-access-token"},
        {"key": "jupyterhub-api-token", "path": "jupyterhub-api-token"},
    ]
    assert mount == {
        "name": "teamhub-tokens",
        "mountPath": "/var/run/secrets/teamhub/tokens",
        "readOnly": True,
    }


# ------------------------------------------------------------------ env
def test_env_is_secret_key_refs_never_literal_tokens():
    env = C.credential_env(secret(), CREDS)
    ref = lambda key: {"secretKeyRef": {"name": "teamhub-credentials", "key": key}}  # noqa: E731
    assert env["JUPYTERHUB_API_TOKEN"] == {
        "name": "JUPYTERHUB_API_TOKEN",
        "valueFrom": ref("jupyterhub-api-token"),
    }
    assert env["JPY_API_TOKEN"]["valueFrom"] == ref("jupyterhub-api-token")
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == ref("vision.s3.AWS_ACCESS_KEY_ID")
    assert env["TEAMHUB_OIDC_TOKEN_FILE"] == {
        "name": "TEAMHUB_OIDC_TOKEN_FILE",
        "value": "/var/run/secrets/teamhub/tokens/oidc-access-token",
    }
    literal = [e for e in env.values() if "value" in e]
    assert [e["name"] for e in literal] == ["TEAMHUB_OIDC_TOKEN_FILE"]
    assert set(env) == {
        "JUPYTERHUB_API_TOKEN",
        "JPY_API_TOKEN",
        "TEAMHUB_OIDC_TOKEN_FILE",
        "AWS_ACCESS_KEY_ID",
    }


def test_env_renames_are_supported():
    cred = {**S3, "env": {"S3_KEY": "AWS_ACCESS_KEY_ID", "S3_SECRET": "AWS_SECRET_ACCESS_KEY"}}
    env = C.credential_env(secret(creds=[("vision", cred)]), [("vision", cred)])
    assert env["S3_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "vision.s3.AWS_SECRET_ACCESS_KEY"


@pytest.mark.parametrize(
    ("creds", "message"),
    [
        (
            [("vision", {**S3, "env": {"X": "UNUSED"}})],
            r"teams\.vision\.credentials\['s3'\]\.env\.X: key 'UNUSED' is not among",
        ),
        (
            [("vision", {**S3, "env": {"JUPYTERHUB_API_TOKEN": "AWS_ACCESS_KEY_ID"}})],
            r"env\.JUPYTERHUB_API_TOKEN: already set by teamhub",
        ),
        (
            [("vision", S3), ("nlp", {**S3, "secretName": "vision-s3"})],
            r"teams\.nlp\.credentials\['s3'\]\.env\.AWS_ACCESS_KEY_ID: already set by "
            r"teams\.vision\.credentials\['s3'\]",
        ),
    ],
)
def test_env_conflicts_are_named(creds, message):
    with pytest.raises(ValueError, match=message):
        C.credential_env(secret(creds=creds), creds)
