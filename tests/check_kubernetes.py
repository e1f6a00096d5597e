#!/usr/bin/env python3
"""Every overlay under deploy/kubernetes renders with `kubectl kustomize`, each rendered object
validates against the Kubernetes schemas (deploy/kubernetes/check/validate.mjs), and the Sluice
configuration each overlay ships in its ConfigMap passes `sluice validate` with the values of
the Secrets it renders beside it.

usage: check_kubernetes.py SLUICE_BIN
"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
KUBERNETES = os.path.join(ROOT, "deploy", "kubernetes")
CHECK = os.path.join(KUBERNETES, "check")


def overlays():
    for name in sorted(os.listdir(KUBERNETES)):
        path = os.path.join(KUBERNETES, name)
        if name != "base" and os.path.isfile(os.path.join(path, "kustomization.yaml")):
            yield name, path


def render(path):
    # An empty KUBECONFIG: rendering is offline, and kubectl must not talk to whatever
    # listens on localhost:8080.
    env = dict(os.environ, KUBECONFIG=os.devnull)
    return subprocess.run(["kubectl", "kustomize", path], check=True, capture_output=True,
                          text=True, env=env).stdout


def check_sluice_config(sluice, name, objects, work):
    env = dict(os.environ)
    for obj in objects:
        if obj.get("kind") == "Secret":
            for key, value in (obj.get("data") or {}).items():
                env[key] = base64.b64decode(value).decode()
            env.update(obj.get("stringData") or {})
    configs = [obj for obj in objects
               if obj.get("kind") == "ConfigMap" and "sluice.yaml" in (obj.get("data") or {})]
    if not configs:
        raise SystemExit(f"{name}: no ConfigMap with sluice.yaml")
    for obj in configs:
        path = os.path.join(work, f"{name}-{obj['metadata']['name']}.yaml")
        with open(path, "w") as f:
            f.write(obj["data"]["sluice.yaml"])
        result = subprocess.run([sluice, "validate", path], capture_output=True, text=True,
                                env=env)
        if result.returncode != 0:
            raise SystemExit(f"{name}: sluice validate failed:\n{result.stdout}{result.stderr}")


def main():
    sluice = sys.argv[1]
    if shutil.which("kubectl") is None:
        raise SystemExit("kubectl is not installed: `kubectl kustomize` renders the overlays")
    if not os.path.isdir(os.path.join(CHECK, "node_modules")):
        raise SystemExit("deploy/kubernetes/check/node_modules is missing: run scripts/setup-node")
    found = list(overlays())
    if not found:
        raise SystemExit("no overlay under deploy/kubernetes")
    with tempfile.TemporaryDirectory() as work:
        for name, path in found:
            rendered = render(path)
            out = os.path.join(work, f"{name}.yaml")
            with open(out, "w") as f:
                f.write(rendered)
            result = subprocess.run(["node", os.path.join(CHECK, "validate.mjs"), out],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"{name}:\n{result.stdout}{result.stderr}")
            objects = [o for o in yaml.safe_load_all(rendered) if o]
            check_sluice_config(sluice, name, objects, work)
            print(f"{name}: {result.stdout.strip()}; its sluice.yaml validates")


if __name__ == "__main__":
    main()
