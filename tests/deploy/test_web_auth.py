"""Signing in to the web app on AWS: Cognito (the default) or an external OpenID Connect
provider, chosen by CDK context; either way the load balancer authenticates before it forwards,
and no listener or rule forwards to the app without it. The OIDC client secret stays in
Secrets Manager: the template only refers to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from videosense_deploy.app import config_from_context
from videosense_deploy.stack import StackConfig, VideosenseStack
from videosense_deploy.web import OidcProvider, WebConfig

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:videosense/oidc-AbCdEf"
OIDC_CONTEXT = {
    "web_domain": "videos.example.com",
    "web_certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/abc",
    "web_auth": "oidc",
    "web_oidc_issuer": "https://login.example.com",
    "web_oidc_authorization_endpoint": "https://login.example.com/oauth2/authorize",
    "web_oidc_token_endpoint": "https://login.example.com/oauth2/token",
    "web_oidc_user_info_endpoint": "https://login.example.com/oauth2/userinfo",
    "web_oidc_client_id": "videosense-alb",
    "web_oidc_client_secret": SECRET_ARN,
    "web_oidc_client_secret_field": "client_secret",
}
COGNITO_CONTEXT = {
    "web_domain": "videos.example.com",
    "web_certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/abc",
    "web_auth_prefix": "videosense-ci",
}
AUTHENTICATE = ("authenticate-cognito", "authenticate-oidc")


def _synth(context: dict[str, str], outdir: Path, *, add: Any = None) -> dict[str, Any]:
    app = cdk.App(outdir=str(outdir))
    config = config_from_context(context)
    stack = VideosenseStack(app, "videosense-auth", config=StackConfig(web=config.web), services=())
    if add is not None:
        add(stack)
    app.synth()
    parsed: dict[str, Any] = json.loads((outdir / "videosense-auth.template.json").read_text())
    return parsed


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        "cognito": _synth(COGNITO_CONTEXT, tmp_path_factory.mktemp("cognito")),
        "oidc": _synth(OIDC_CONTEXT, tmp_path_factory.mktemp("oidc")),
    }


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def unauthenticated_forwards(template: dict[str, Any]) -> list[str]:
    """Listeners and listener rules that forward a request no authentication action signed in
    first (an authentication action that lets unauthenticated requests through counts as none)."""
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::Listener":
            actions = resource["Properties"].get("DefaultActions", [])
        elif resource["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule":
            actions = resource["Properties"].get("Actions", [])
        else:
            continue
        signed_in = False
        for action in sorted(actions, key=lambda a: a.get("Order", 0)):
            if action["Type"] in AUTHENTICATE:
                config = action.get("AuthenticateCognitoConfig") or action.get(
                    "AuthenticateOidcConfig", {}
                )
                # The load balancer's default for a missing value is "authenticate".
                signed_in = config.get("OnUnauthenticatedRequest", "authenticate") == "authenticate"
            elif action["Type"] == "forward" and not signed_in:
                found.append(name)
    return found


def _https_actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    listeners = _of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    (https,) = [v["Properties"] for v in listeners.values() if v["Properties"]["Port"] == 443]
    return sorted(https["DefaultActions"], key=lambda a: a["Order"])


def test_cognito_is_the_default_and_signs_in_before_forwarding(
    templates: dict[str, dict[str, Any]],
) -> None:
    # GIVEN the web context without web_auth WHEN synthesized
    template = templates["cognito"]
    # THEN the HTTPS listener authenticates with the stack's user pool, then forwards
    actions = _https_actions(template)
    assert [a["Type"] for a in actions] == ["authenticate-cognito", "forward"]
    assert actions[0]["AuthenticateCognitoConfig"]["OnUnauthenticatedRequest"] == "authenticate"
    assert len(_of_type(template, "AWS::Cognito::UserPool")) == 1
    assert "WebUserPoolId" in template["Outputs"]


def test_oidc_signs_in_with_the_provider_before_forwarding(
    templates: dict[str, dict[str, Any]],
) -> None:
    # GIVEN web_auth=oidc and the provider's settings WHEN synthesized
    template = templates["oidc"]
    # THEN the HTTPS listener authenticates with the provider, then forwards
    actions = _https_actions(template)
    assert [a["Type"] for a in actions] == ["authenticate-oidc", "forward"]
    oidc = actions[0]["AuthenticateOidcConfig"]
    assert {k: oidc[k] for k in ("Issuer", "ClientId", "Scope", "OnUnauthenticatedRequest")} == {
        "Issuer": "https://login.example.com",
        "ClientId": "videosense-alb",
        "Scope": "openid email",
        "OnUnauthenticatedRequest": "authenticate",
    }
    assert oidc["TokenEndpoint"] == "https://login.example.com/oauth2/token"
    assert oidc["UserInfoEndpoint"] == "https://login.example.com/oauth2/userinfo"
    assert oidc["AuthorizationEndpoint"] == "https://login.example.com/oauth2/authorize"
    # AND the client secret is a Secrets Manager reference CloudFormation resolves, not a value
    assert oidc["ClientSecret"] == (
        f"{{{{resolve:secretsmanager:{SECRET_ARN}:SecretString:client_secret::}}}}"
    )
    # AND no user pool is created, and plain HTTP still only redirects
    assert not _of_type(template, "AWS::Cognito::UserPool")
    assert "WebUserPoolId" not in template["Outputs"]
    listeners = _of_type(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    (http,) = [v["Properties"] for v in listeners if v["Properties"]["Port"] == 80]
    assert [a["Type"] for a in http["DefaultActions"]] == ["redirect"]


@pytest.mark.parametrize("auth", ["cognito", "oidc"])
def test_no_listener_forwards_to_the_app_without_signing_in(
    templates: dict[str, dict[str, Any]], auth: str
) -> None:
    # GIVEN either sign-in WHEN every listener and rule is read THEN each forward is signed in
    assert _of_type(templates[auth], "AWS::ElasticLoadBalancingV2::Listener")
    assert unauthenticated_forwards(templates[auth]) == []


def test_an_unauthenticated_forward_is_caught(tmp_path: Path) -> None:
    # GIVEN the web stack with a rule and a listener added that forward without signing in,
    # and a rule whose authentication lets unauthenticated requests through
    def open_up(stack: VideosenseStack) -> None:
        assert stack.web is not None
        targets = stack.web.targets
        stack.web.https_listener.add_action(
            "OpenApi",
            priority=1,
            conditions=[elbv2.ListenerCondition.path_patterns(["/api/*"])],
            action=elbv2.ListenerAction.forward([targets]),
        )
        stack.web.load_balancer.add_listener(
            "Open",
            port=8443,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.forward([targets]),
        )
        stack.web.https_listener.add_action(
            "Lenient",
            priority=2,
            conditions=[elbv2.ListenerCondition.path_patterns(["/videos/*"])],
            action=elbv2.ListenerAction.authenticate_oidc(
                issuer="https://login.example.com",
                authorization_endpoint="https://login.example.com/a",
                token_endpoint="https://login.example.com/t",
                user_info_endpoint="https://login.example.com/u",
                client_id="x",
                client_secret=cdk.SecretValue.secrets_manager(SECRET_ARN),
                on_unauthenticated_request=elbv2.UnauthenticatedAction.ALLOW,
                allow_https_outbound=False,
                next=elbv2.ListenerAction.forward([targets]),
            ),
        )

    template = _synth(OIDC_CONTEXT, tmp_path, add=open_up)
    # WHEN checked THEN all three are named
    caught = unauthenticated_forwards(template)
    assert len(caught) == 3
    assert sum("OpenApi" in name or "Lenient" in name for name in caught) == 2


def test_oidc_context_without_the_provider_settings_is_refused() -> None:
    partial = {k: v for k, v in OIDC_CONTEXT.items() if k != "web_oidc_token_endpoint"}
    with pytest.raises(ValueError, match="web_oidc_token_endpoint"):
        config_from_context(partial)
    stray = {**COGNITO_CONTEXT, "web_oidc_client_id": "x"}
    with pytest.raises(ValueError, match="web_auth is not oidc"):
        config_from_context(stray)
    with pytest.raises(ValueError, match="cognito or oidc"):
        config_from_context({**OIDC_CONTEXT, "web_auth": "saml"})


def test_oidc_settings_are_checked() -> None:
    good = {
        "issuer": "https://login.example.com",
        "authorization_endpoint": "https://login.example.com/a",
        "token_endpoint": "https://login.example.com/t",
        "user_info_endpoint": "https://login.example.com/u",
        "client_id": "alb",
        "client_secret": "videosense/oidc",
    }
    assert OidcProvider(**good).scope == "openid email"
    with pytest.raises(ValueError, match="token endpoint must be an https"):
        OidcProvider(**{**good, "token_endpoint": "http://login.example.com/t"})
    with pytest.raises(ValueError, match="Secrets Manager"):
        OidcProvider(**{**good, "client_secret": ""})
    with pytest.raises(ValueError, match="needs the provider"):
        WebConfig(domain_name="v.example.com", certificate_arn="arn:cert", auth="oidc")
    with pytest.raises(ValueError, match="sign-in prefix"):
        WebConfig(domain_name="v.example.com", certificate_arn="arn:cert")
