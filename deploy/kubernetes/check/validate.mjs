// Validates rendered Kubernetes manifests (multi-document YAML, from files or stdin) against
// the Kubernetes schemas, offline, in two passes:
//  1. each object's own validate() from kubernetes-models (and its KEDA and Prometheus
//     Operator packages): types, required fields, enums and formats;
//  2. TypeScript's excess-property check, with every object written as a literal of its
//     model's interface: the schemas allow unknown fields, so a typo such as `imagee:` or a
//     field at the wrong depth passes 1 and is caught here.
// An object whose apiVersion has no model (a CRD without a package) fails: add its package
// or check it elsewhere.
//
//   node validate.mjs FILE...        (or - for stdin)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

// The module that holds the model of an apiVersion's kinds.
function modelModule(apiVersion) {
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}`;
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;
}

function describe(object, source) {
  return `${source}: ${object.kind ?? "?"}/${object.metadata?.name ?? "?"} (${object.apiVersion ?? "?"})`;
}

const objects = [];
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      console.error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      process.exit(1);
    }
    const object = doc.toJS();
    if (object !== null) objects.push({ object, source: file });
  }
}
if (objects.length === 0) {
  console.error("no objects to validate");
  process.exit(1);
}

let failures = 0;
const literals = [];
for (const [i, { object, source }] of objects.entries()) {
  const name = describe(object, source);
  const module = `${modelModule(object.apiVersion ?? "")}/${object.kind}`;
  let Model;
  try {
    Model = (await import(module))[object.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) {
    console.error(`${name}: no model for this kind (${module})`);
    failures++;
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    console.error(`${name}: ${error.message}`);
    failures++;
    continue;
  }
  literals.push(
    `import type { I${object.kind} as T${i} } from "${module}";\n` +
      `// ${name}\nexport const o${i}: T${i} = ${JSON.stringify(object, null, 2)};\n`,
  );
}

if (literals.length > 0) {
  // TypeScript resolves the models from this folder's node_modules.
  const work = mkdtempSync(join(here, ".check-"));
  try {
    writeFileSync(join(work, "objects.ts"), literals.join("\n"));
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    execFileSync(
      process.execPath,
      [tsc, "--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext",
        "--moduleResolution", "nodenext", "--target", "es2022", join(work, "objects.ts")],
      { stdio: "pipe", cwd: here },
    );
  } catch (error) {
    const out = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim();
    console.error(out || error.message);
    failures++;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (failures > 0) {
  console.error(`kubernetes: ${failures} of ${objects.length} objects do not validate`);
  process.exit(1);
}
console.log(`kubernetes: ${objects.length} objects validate`);
