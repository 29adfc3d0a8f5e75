#!/usr/bin/env python3
"""Translates template.yaml with the SAM translator once per AuthMode (api-key, cognito, oidc) and
checks each route's security: the intent, feedback and jobs routes need the mode's authorizer
(and the API key), health, the contract, the docs page and the 404 fallback stay open.

`sam validate` does not evaluate conditions, and SAM alone rejects intrinsics in `Auth`; in AWS the
AWS::LanguageExtensions transform resolves the `!If`s on AuthMode first. This script does the same
resolution for the auth conditions (parameter-only, as LanguageExtensions requires), then runs the
translator offline. Run with the venv's Python: .tools/venv/bin/python scripts/template_auth_modes.py
"""
import copy
import os
import sys

from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTH_CONDITIONS = {"UseCognitoAuth", "UseOidcAuth", "UseJwtAuth", "HasOidcJwksUrl"}
OPEN = {"/v1/health", "/v1/openapi.json", "/docs", "/{proxy+}"}
NO_VALUE = object()


def condition(c, params, conditions):
    (kind, args), = c.items()
    if kind == "Fn::Equals":
        return value(args[0], params) == value(args[1], params)
    if kind == "Fn::Not":
        return not condition(args[0], params, conditions)
    if kind == "Fn::Or":
        return any(condition(a, params, conditions) for a in args)
    if kind == "Fn::And":
        return all(condition(a, params, conditions) for a in args)
    if kind == "Condition":
        return condition(conditions[args], params, conditions)
    raise ValueError(f"unsupported condition {kind}")


def value(v, params):
    if isinstance(v, dict) and v.get("Ref") in params:
        return str(params[v["Ref"]])
    return v


def resolve(node, params, conditions):
    """Resolves the Fn::If of the auth conditions, dropping AWS::NoValue where it lands."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            name, yes, no = node["Fn::If"]
            if name not in AUTH_CONDITIONS:
                return node
            chosen = yes if condition(conditions[name], params, conditions) else no
            return resolve(chosen, params, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        out = {}
        for k, v in node.items():
            r = resolve(v, params, conditions)
            if r is not NO_VALUE:
                out[k] = r
        return out
    if isinstance(node, list):
        return [r for r in (resolve(v, params, conditions) for v in node) if r is not NO_VALUE]
    return node


def translate(template, mode):
    params = {k: v.get("Default") for k, v in template["Parameters"].items()}
    params.update(
        AuthMode=mode,
        CognitoUserPoolArn="arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_Example",
        OidcIssuer="https://issuer.example/",
        OidcAudience="intent-api",
    )
    t = copy.deepcopy(template)
    t["Resources"] = resolve(t["Resources"], params, t["Conditions"])
    t["Transform"] = "AWS::Serverless-2016-10-31"
    for logical_id, resource in list(t["Resources"].items()):
        cond = resource.get("Condition")
        if cond in AUTH_CONDITIONS and not condition(t["Conditions"][cond], params, t["Conditions"]):
            del t["Resources"][logical_id]
            continue
        props = resource.get("Properties", {})
        # Local code paths are packaged by `sam build`; the translator only wants a location.
        if "CodeUri" in props:
            props["CodeUri"] = "s3://bucket/code.zip"
        if "ContentUri" in props:
            props["ContentUri"] = "s3://bucket/layer.zip"
    return transform(t, params, None)


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = yaml_parse(f.read())
    expected = {"api-key": None, "cognito": "CognitoAuthorizer", "oidc": "OidcAuthorizer"}
    problems = []
    for mode, authorizer in expected.items():
        try:
            out = translate(template, mode)
        except InvalidDocumentException as e:
            problems.append(f"{mode}: {[str(c) for c in e.causes]}")
            continue
        paths = out["Resources"]["Api"]["Properties"]["Body"]["paths"]
        for path, methods in paths.items():
            security = methods["x-amazon-apigateway-any-method"].get("security", [])
            names = {name for entry in security for name in entry}
            want = set() if path in OPEN else {"api_key"} | ({authorizer} if authorizer else set())
            if names != want:
                problems.append(f"{mode}: {path} has {sorted(names)}, expected {sorted(want)}")
        print(f"{mode}: {len(paths)} paths translated and checked")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
