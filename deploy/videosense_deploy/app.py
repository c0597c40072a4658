"""The CDK app: one :class:`VideosenseStack` per environment.

``cdk synth``/``cdk deploy`` run it through ``cdk.json``; ``python deploy/app.py`` synthesizes
without the CLI (into ``deploy/cdk.out``). Options come from CDK context (``-c key=value``):

- ``env`` (``dev``): environment name; the stack is ``videosense-<env>`` and every resource name
  starts with it;
- ``min_tasks`` (``0``), ``max_tasks`` (``4``): task counts per service;
- ``spot`` (``true``): run tasks on Fargate Spot;
- ``backend.<service>`` (e.g. ``backend.recognizer=local``): a service's backend;
- ``web_domain``, ``web_certificate_arn``, ``web_auth_prefix``: deploy the web app at that
  name, behind a load balancer that signs users in with a Cognito user pool (all three, or
  none: no web app).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk

from videosense_deploy.services import SERVICES, deployable, repo_root
from videosense_deploy.stack import StackConfig, VideosenseStack
from videosense_deploy.web import WebConfig

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
    )


def _web_config(context: Mapping[str, object]) -> WebConfig | None:
    keys = ("web_domain", "web_certificate_arn", "web_auth_prefix")
    if not any(context.get(k) for k in keys):
        return None
    domain, certificate, prefix = (str(context.get(k) or "") for k in keys)
    return WebConfig(domain_name=domain, certificate_arn=certificate, auth_domain_prefix=prefix)


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
        "web_domain",
        "web_certificate_arn",
        "web_auth_prefix",
    )
    context = {k: app.node.try_get_context(k) for k in names}
    context = {k: v for k, v in context.items() if v is not None}
    for key, value in extra.items():
        context[key] = value
    build(app, config_from_context(context))
    assembly = app.synth()
    if outdir is not None:
        print(f"synthesized {', '.join(s.stack_name for s in assembly.stacks)} into {Path(outdir)}")
