#!/usr/bin/env python3
"""Every overlay under deploy/kubernetes renders with `kubectl kustomize`, each rendered object
validates against the Kubernetes schemas (deploy/kubernetes/check/validate.mjs), and the Sluice
configuration each overlay ships in its ConfigMap passes `sluice validate` with the values of
the Secrets it renders beside it. Strimzi's objects (kafka.strimzi.io), which no npm package
models, are checked here against the fields of Strimzi's v1beta2 API that they use, and their
topics against the streams of the overlay's sluice.yaml.

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


STRIMZI = "kafka.strimzi.io/v1beta2"
# Per kind: the fields Strimzi requires (dotted paths), and every field these files may use.
STRIMZI_FIELDS = {
    "Kafka": ({"spec.kafka.listeners"},
              {"spec.kafka.listeners", "spec.kafka.config", "spec.kafka.version",
               "spec.kafka.metadataVersion", "spec.entityOperator.topicOperator",
               "spec.entityOperator.userOperator"}),
    "KafkaNodePool": ({"spec.replicas", "spec.roles", "spec.storage"},
                      {"spec.replicas", "spec.roles", "spec.storage", "spec.resources"}),
    "KafkaTopic": ({"spec.partitions", "spec.replicas"},
                   {"spec.partitions", "spec.replicas", "spec.config", "spec.topicName"}),
}
LISTENER_FIELDS = {"name", "port", "type", "tls"}


def leaves(obj, prefix=""):
    """Dotted paths of `obj`'s leaves (lists and empty objects are leaves)."""
    out = set()
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= leaves(value, path + ".")
        else:
            out.add(path)
    return out


def under(path, fields):
    return any(path == f or path.startswith(f + ".") for f in fields)


def check_strimzi(name, obj, streams):
    kind, meta = obj.get("kind"), obj.get("metadata") or {}
    where = f"{name}: {kind}/{meta.get('name')}"
    if kind not in STRIMZI_FIELDS:
        raise SystemExit(f"{where}: not a Strimzi kind these checks know")
    required, allowed = STRIMZI_FIELDS[kind]
    spec = obj.get("spec") or {}
    paths = {f"spec.{p}" for p in leaves(spec)}
    missing = sorted(r for r in required if not any(under(p, {r}) for p in paths))
    unknown = sorted(p for p in paths if not under(p, allowed))
    if missing or unknown:
        raise SystemExit(f"{where}: missing {missing}, unknown {unknown}")
    if kind != "Kafka" and "strimzi.io/cluster" not in (meta.get("labels") or {}):
        raise SystemExit(f"{where}: needs the label strimzi.io/cluster")
    if kind == "Kafka":
        for listener in spec["kafka"]["listeners"]:
            if set(listener) - LISTENER_FIELDS or not {"name", "port", "type", "tls"} <= set(
                    listener):
                raise SystemExit(f"{where}: listener {listener} needs name, port, type, tls")
    if kind == "KafkaNodePool":
        if not set(spec["roles"]) <= {"controller", "broker"}:
            raise SystemExit(f"{where}: roles are controller and broker")
    if kind == "KafkaTopic":
        topic = spec.get("topicName", meta.get("name"))
        if topic in streams and streams[topic] != spec["partitions"]:
            raise SystemExit(f"{where}: {spec['partitions']} partitions but the stream has "
                             f"{streams[topic]}")


def topics_of(objects):
    """Topic name -> partitions of the streams in the overlay's sluice.yaml (log on Kafka)."""
    out = {}
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and "sluice.yaml" in (obj.get("data") or {}):
            config = yaml.safe_load(obj["data"]["sluice.yaml"]) or {}
            kafka = (config.get("log") or {}).get("kafka") or {}
            for stream, settings in (config.get("streams") or {}).items():
                settings = settings or {}
                topic = (settings.get("kafka") or {}).get("topic") or (
                    kafka.get("topic_prefix", "") + stream)
                out[topic] = settings.get("partitions", 1)
    return out


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
            objects = [o for o in yaml.safe_load_all(rendered) if o]
            strimzi = [o for o in objects if o.get("apiVersion") == STRIMZI]
            for obj in strimzi:
                check_strimzi(name, obj, topics_of(objects))
            out = os.path.join(work, f"{name}.yaml")
            with open(out, "w") as f:
                yaml.safe_dump_all([o for o in objects if o.get("apiVersion") != STRIMZI], f)
            result = subprocess.run(["node", os.path.join(CHECK, "validate.mjs"), out],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"{name}:\n{result.stdout}{result.stderr}")
            check_sluice_config(sluice, name, objects, work)
            print(f"{name}: {result.stdout.strip()}"
                  + (f", {len(strimzi)} Strimzi objects check" if strimzi else "")
                  + "; its sluice.yaml validates")


if __name__ == "__main__":
    main()
