"""docs/openapi.yaml against the real binary: every route the server has is documented, every
documented operation exists and answers with a documented status, and JSON answers carry the
required properties of the documented schema (checked recursively through $refs, arrays and
objects).

usage: openapi_test.py SLUICE_BINARY SOURCE_DIR
"""

import json
import os
import re
import sys
import tempfile
import urllib.parse

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

CONFIG = """
streams:
  events: {key_field: city, type_field: event_type, dead_letter: dead_letters, stats_fields: [city]}
  web: {type_field: event_type}
  contact: {id_field: "", time_field: "", form: {enabled: true}}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
  alerts: {id_field: "", time_field: "", type_field: rule}
routes:
  collect: {path: /collect, stream: web}
  publish: {path: /publish, stream: events}
sinks:
  files: {file: {dir: %s}}
pipelines:
  archive: {from: [events], to: [files]}
windows:
  per_city: {from: [events], key: [city], tumbling: 1m, aggregates: {n: count}}
alerts:
  busy: {from: [events], when: "n > 1", severity: high}
"""

# One request per documented operation: (method, path template) -> (path, body, headers).
EXAMPLES = {
    ("post", "/v1/streams/{stream}/events"):
        ("/v1/streams/events/events", [{"id": "a1", "city": "NYC", "n": 2}, 7], None),
    ("options", "/v1/streams/{stream}/events"):
        ("/v1/streams/events/events", None, {"Origin": "https://x.example"}),
    ("post", "/v1/forms/{form}"):
        ("/v1/forms/contact", "name=Ann&message=hi", {"Content-Type":
                                                      "application/x-www-form-urlencoded"}),
    ("post", "/collect"): ("/collect", {"events": [{"event_type": "click"}], "app": "x"}, None),
    ("post", "/publish"): ("/publish", {"type": "TEMP", "value": "ALERT:90"}, None),
    ("post", "/v1/track"): ("/v1/track", {"messageId": "s1", "event": "Signed Up"},
                            {"Authorization": "Basic d2s6"}),
    ("post", "/v1/batch"): ("/v1/batch", {"batch": [{"messageId": "s2", "type": "page"}]}, None),
    ("get", "/v1/projects/{key}/settings"): ("/v1/projects/wk/settings", None, None),
    ("post", "/batch"): ("/batch", {"api_key": "k", "batch": [{"uuid": "p1", "event": "e"}]},
                         None),
    ("post", "/flags"): ("/flags", {"token": "k"}, None),
    ("get", "/array/{token}/config"): ("/array/k/config", None, None),
    ("get", "/array/{token}/config.js"): ("/array/k/config.js", None, None),
    ("post", "/com.snowplowanalytics.snowplow/tp2"):
        ("/com.snowplowanalytics.snowplow/tp2", {"schema": "x", "data": [{"e": "pv", "eid": "w1"}]},
         None),
    ("get", "/i"): ("/i?e=pv&eid=w2&dtm=1700000000000", None, None),
    ("get", "/"): ("/", None, None),
    ("get", "/console.js"): ("/console.js", None, None),
    ("get", "/console.css"): ("/console.css", None, None),
    ("get", "/v1/events"): ("/v1/events?stream=events&limit=5", None, None),
    ("get", "/v1/events/{id}"): ("/v1/events/a0?stream=events", None, None),
    ("get", "/v1/stats"): ("/v1/stats?stream=events&group_by=city", None, None),
    ("get", "/v1/streams"): ("/v1/streams", None, None),
    ("get", "/v1/dead-letters"): ("/v1/dead-letters?source=events", None, None),
    ("get", "/v1/alerts"): ("/v1/alerts?rule=busy", None, None),
    ("get", "/v1/tail"): ("/v1/tail?stream=nope", None, None),  # the error is JSON
    ("get", "/v1/pipelines"): ("/v1/pipelines", None, None),
    ("get", "/v1/windows"): ("/v1/windows", None, None),
    ("get", "/v1/windows/{name}"): ("/v1/windows/per_city", None, None),
    ("get", "/healthz"): ("/healthz", None, None),
    ("get", "/readyz"): ("/readyz", None, None),
    ("get", "/metrics"): ("/metrics", None, None),
    ("get", "/tracker.js"): ("/tracker.js", None, None),
    ("post", "/v1/sql"): ("/v1/sql", {"sql": "SELECT count(*) AS n FROM events"}, None),
    ("get", "/demo"): ("/demo", None, None),
    ("get", "/demo/{path}"): ("/demo/pricing", None, None),
}


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        path = node["$ref"].lstrip("#/").split("/")
        node = spec
        for part in path:
            node = node[part]
    return node


def check_shape(spec, schema, value, where="body"):
    schema = resolve(spec, schema)
    if not schema:
        return
    if schema.get("nullable") and value is None:
        return
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
             "number": (int, float)}
    if kind:
        assert isinstance(value, types[kind]), (where, kind, value)
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, (where, "missing", name, list(value))
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check_shape(spec, sub, value[name], where + "." + name)
    if kind == "array":
        for i, item in enumerate(value[:20]):
            check_shape(spec, schema.get("items", {}), item, "%s[%d]" % (where, i))
    if "enum" in schema:
        assert value in schema["enum"], (where, value, schema["enum"])


def main():
    binary, source = sys.argv[1], sys.argv[2]
    spec = yaml.safe_load(open(os.path.join(source, "docs", "openapi.yaml")))
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="sluice-openapi-")
    config = os.path.join(workdir, "sluice.yaml")
    with open(config, "w") as f:
        f.write(CONFIG % os.path.join(workdir, "files"))
    server = Server(binary, config=config).start()
    try:
        operations = {(method, path): op for path, item in spec["paths"].items()
                      for method, op in item.items()}

        def routes_documented():
            # The routes as their owners register them: a pattern given to the router.
            routes = set()
            for folder, _, files in os.walk(os.path.join(source, "src")):
                for name in files:
                    if not name.endswith(".cc"):
                        continue
                    text = open(os.path.join(folder, name)).read()
                    if "Router" not in text and "router" not in text:
                        continue
                    for route in re.findall(
                            r'(?:\.pattern = |\b(?:add|get|from_store|absent|absent_route)\()"(/[^"]*)"',
                            text):
                        routes.add(route.replace("*}", "}"))
            routes = sorted(routes)
            assert len(routes) >= 15, routes
            missing = [r for r in routes if r not in spec["paths"]]
            assert not missing, missing
            untested = sorted(set(operations) - set(EXAMPLES))
            assert not untested, untested

        checks.run("every route of the server is documented, every operation has an example",
                   routes_documented)
        # Something to read back before the reads run.
        server.request("POST", "/v1/streams/events/events", [{"id": "a0", "city": "NYC"}])
        wait_for(lambda: server.request("GET", "/v1/events/a0?stream=events")[0] == 200, 15,
                 "the first event stored")
        for (method, template), (path, body, headers) in EXAMPLES.items():
            def run(method=method, template=template, path=path, body=body, headers=headers):
                op = operations[(method, template)]
                status, answer_headers, reply = server.request(method.upper(), path, body,
                                                               headers)
                documented = op["responses"]
                assert str(status) in documented, (status, sorted(documented))
                response = resolve(spec, documented[str(status)])
                content = response.get("content", {})
                if "application/json" in content:
                    assert answer_headers["content-type"] == "application/json", answer_headers
                    check_shape(spec, content["application/json"]["schema"], reply)
                elif "text/plain" in content:
                    assert answer_headers["content-type"].startswith("text/plain"), answer_headers
            checks.run("%s %s -> documented answer" % (method.upper(), template), run)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-20:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
