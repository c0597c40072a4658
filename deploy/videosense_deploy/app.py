"""The CDK app: one :class:`VideosenseStack` per environment.

``cdk synth``/``cdk deploy`` run it through ``cdk.json``; ``python deploy/app.py`` synthesizes
without the CLI (into ``deploy/cdk.out``). Options come from CDK context (``-c key=value``):

- ``env`` (``dev``): environment name; the stack is ``videosense-<env>`` and every resource name
  starts with it;
- ``min_tasks`` (``0``), ``max_tasks`` (``4``): task counts per service;
- ``spot`` (``true``): run tasks on Fargate Spot;
- ``backend.<service>`` (e.g. ``backend.recognizer=local``): a service's backend;
- ``search`` (``domain``): where the library search index lives, an OpenSearch Service domain
  or ``aoss``, an OpenSearch Serverless collection of ``search_collection_type`` (``vectorsearch``,
  the default, keeps natural-language search; ``search`` has none);
- ``web_domain``, ``web_certificate_arn``, ``web_auth_prefix``: deploy the web app at that
  name, behind a load balancer that signs users in with a Cognito user pool (all three, or
  none: no web app);
- ``web_auth`` (``cognito``): ``oidc`` signs users in with an external OpenID Connect provider
  instead (no ``web_auth_prefix``): ``web_oidc_issuer``, ``web_oidc_authorization_endpoint``,
  ``web_oidc_token_endpoint``, ``web_oidc_user_info_endpoint``, ``web_oidc_client_id``, and
  ``web_oidc_client_secret``, the name or ARN of the Secrets Manager secret holding the client
  secret (``web_oidc_client_secret_field``: its field, for a JSON secret; ``web_oidc_scope``,
  ``openid email`` by default).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk

from videosense_deploy.services import SERVICES, deployable, repo_root
from videosense_deploy.stack import StackConfig, VideosenseStack
from videosense_deploy.web import OidcProvider, WebConfig

DEFAULT_OUTDIR = repo_root() / "deploy" / "cdk.out"


def config_from_context(context: Mapping[str, object]) -> StackConfig:
    """Read the stack options from CDK context values.

    Raises:
        ValueError: a value is malformed (e.g. ``max_tasks=lots``).
    """
    backends = {
        key.removeprefix("backend."): str(value)
        for key, value in context.items()
        if key.startswith("backend.")
    }
    return StackConfig(
        env_name=str(context.get("env", "dev")),
        min_tasks=int(str(context.get("min_tasks", 0))),
        max_tasks=int(str(context.get("max_tasks", 4))),
        spot=str(context.get("spot", "true")).lower() in ("1", "true", "yes"),
        backends=backends,
        web=_web_config(context),
        search=str(context.get("search", "domain")),
        search_collection_type=str(context.get("search_collection_type", "vectorsearch")),
    )


#: Context keys of the OIDC provider (``web_auth=oidc``), after ``web_oidc_``.
OIDC_KEYS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "user_info_endpoint",
    "client_id",
    "client_secret",
    "client_secret_field",
    "scope",
)


def _web_config(context: Mapping[str, object]) -> WebConfig | None:
    keys = ("web_domain", "web_certificate_arn", "web_auth_prefix")
    oidc_given = {
        k: str(context[f"web_oidc_{k}"]) for k in OIDC_KEYS if context.get(f"web_oidc_{k}")
    }
    if not any(context.get(k) for k in keys) and not oidc_given:
        return None
    domain, certificate, prefix = (str(context.get(k) or "") for k in keys)
    auth = str(context.get("web_auth") or "cognito")
    if auth not in ("cognito", "oidc"):
        raise ValueError(f"web_auth={auth!r}: cognito or oidc")
    if auth == "cognito":
        if oidc_given:
            raise ValueError("web_oidc_* is given but web_auth is not oidc")
        return WebConfig(domain_name=domain, certificate_arn=certificate, auth_domain_prefix=prefix)
    required = [k for k in OIDC_KEYS[:6] if k not in oidc_given]
    if required:
        raise ValueError("web_auth=oidc needs " + ", ".join(f"web_oidc_{k}" for k in required))
    provider = OidcProvider(**oidc_given)
    return WebConfig(domain_name=domain, certificate_arn=certificate, auth="oidc", oidc=provider)


def build(app: cdk.App, config: StackConfig) -> VideosenseStack:
    """Add the stack of ``config``'s environment to ``app``."""
    return VideosenseStack(
        app,
        f"videosense-{config.env_name}",
        config=config,
        services=deployable(repo_root(), SERVICES),
        description=f"videosense ({config.env_name}): event-driven video understanding",
    )


def _context_args(argv: Sequence[str]) -> dict[str, str]:
    # `python deploy/app.py -c env=prod`: the same options as `cdk synth -c env=prod`.
    out: dict[str, str] = {}
    items = list(argv)
    for flag, value in itertools.pairwise(items):
        if flag in ("-c", "--context") and "=" in value:
            key, _, val = value.partition("=")
            out[key] = val
    return out


def main(argv: Sequence[str] = ()) -> None:
    """Synthesize the stack (into ``deploy/cdk.out`` unless the CDK CLI chose a directory)."""
    extra = _context_args(argv)
    outdir = None if os.environ.get("CDK_OUTDIR") else str(DEFAULT_OUTDIR)
    app = cdk.App(outdir=outdir, context=extra or None)
    names = (
        "env",
        "min_tasks",
        "max_tasks",
        "spot",
        "search",
        "search_collection_type",
        "web_domain",
        "web_certificate_arn",
        "web_auth_prefix",
        "web_auth",
        *(f"web_oidc_{k}" for k in OIDC_KEYS),
    )
    context = {k: app.node.try_get_context(k) for k in names}
    context = {k: v for k, v in context.items() if v is not None}
    for key, value in extra.items():
        context[key] = value
    build(app, config_from_context(context))
    assembly = app.synth()
    if outdir is not None:
        print(f"synthesized {', '.join(s.stack_name for s in assembly.stacks)} into {Path(outdir)}")
