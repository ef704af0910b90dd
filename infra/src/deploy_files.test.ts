// The deploy files against the repository: an image built from a fresh clone
// must install every workspace package (a package.json left out of the
// dependency layer fails the frozen install, or drops a package from the image).
//
// And the rest of what can be known without a Docker engine or a cluster (none
// runs where these files are written): infra/docker/Dockerfile (a target per
// service), infra/docker-compose.yml and infra/k8s/ name only variables the
// code they start reads, run entry points that exist in the image they run in,
// mount the files they point at, probe the gateway where it answers, give it
// time to drain, and start the topology job before the processes that need it.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { parseMcpServers } from "./mcp_servers.js";
import { checkEntry, type ModelEntry } from "./models.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (p: string) => readFileSync(`${root}${p}`, "utf8");
const exists = (p: string) => existsSync(`${root}${p}`);

/** the packages pnpm-workspace.yaml lists */
function workspacePackages(): string[] {
  const lines = read("pnpm-workspace.yaml").split("\n");
  const out: string[] = [];
  let inPackages = false;
  for (const line of lines) {
    if (/^packages:/.test(line)) inPackages = true;
    else if (/^\S/.test(line)) inPackages = false;
    else if (inPackages) {
      const m = /^\s+-\s+(\S+)/.exec(line);
      if (m) out.push(m[1]!);
    }
  }
  return out;
}

t.test("the Dockerfile copies every workspace package's package.json before the install", async (t) => {
  const packages = workspacePackages();
  t.ok(packages.length >= 7, `${packages.length} workspace packages`);
  const dockerfile = read("infra/docker/Dockerfile");
  const install = dockerfile.indexOf("pnpm install --frozen-lockfile");
  t.ok(install > 0, "the image installs with the lockfile");
  const copied = new Set([...dockerfile.slice(0, install).matchAll(/^COPY (\S+)\/package\.json \S+/gm)].map((m) => m[1]));
  for (const p of packages) t.ok(copied.has(p), `${p}/package.json copied before the install`);
});

// ---------------------------------------------------------------------------
// The files

const DOCKERFILE = "infra/docker/Dockerfile";
const COMPOSE = "infra/docker-compose.yml";
const K8S = "infra/k8s";
/** the Dockerfile's WORKDIR in every image: absolute paths under it are repository paths */
const APP = "/app";
/** read by Node itself, not by our code */
const READ_BY_NODE = new Set(["NODE_OPTIONS"]);
/** every service, by its Dockerfile target */
const SERVICES = ["gateway", "worker", "egress-proxy", "mcp-bridge", "topology", "echo"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const scalar = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined);
/** a command as compose or Kubernetes gives it: a list, or (compose) one string */
const argvOf = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.map((x) => String(x)) : typeof v === "string" ? v.split(/\s+/).filter(Boolean) : undefined;

/** Every document of a YAML file, and what the parser complained of. Merge keys (`<<:`) as compose reads them. */
function yamlDocs(path: string): { docs: Obj[]; errors: string[] } {
  const docs: Obj[] = [];
  const errors: string[] = [];
  for (const d of parseAllDocuments(read(path), { merge: true })) {
    for (const e of d.errors) errors.push(`${path}: ${e.message}`);
    const js: unknown = d.toJS();
    if (isObj(js)) docs.push(js);
  }
  return { docs, errors };
}

// ---------------------------------------------------------------------------
// The Dockerfile

interface Instruction {
  op: string;
  /** what follows the instruction's name, continuation lines joined */
  rest: string;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    // comments (and parser directives) may sit between continuation lines too
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${continued ? line.replace(/\\\s*$/, "") : line} `;
    if (continued) continue;
    const m = /^\s*(\w+)\s+([\s\S]*?)\s*$/.exec(pending);
    if (m) out.push({ op: m[1]!.toUpperCase(), rest: m[2]!.replace(/\s+/g, " ") });
    pending = "";
  }
  return out;
}

function dockerStages(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const i of dockerInstructions(text)) {
    if (i.op === "FROM") {
      const words = i.rest.split(" ").filter((w) => !w.startsWith("--"));
      const as = words.findIndex((w) => w.toUpperCase() === "AS");
      stages.push({ name: as >= 0 ? words[as + 1]!.toLowerCase() : String(stages.length), base: words[0]!, instructions: [] });
    } else stages.at(-1)?.instructions.push(i);
  }
  return stages;
}

/** `--flag=value` words, then the other words */
function flagsAndWords(rest: string): { flags: Map<string, string>; words: string[] } {
  const flags = new Map<string, string>();
  const words: string[] = [];
  for (const w of rest.split(" ").filter(Boolean)) {
    const f = /^--([\w-]+)(?:=(.*))?$/.exec(w);
    if (f && words.length === 0) flags.set(f[1]!, f[2] ?? "");
    else words.push(w);
  }
  return { flags, words };
}

/** CMD/ENTRYPOINT: the exec form (a JSON list) as is; the shell form as the shell runs it */
const execForm = (rest: string): string[] => (rest.startsWith("[") ? (JSON.parse(rest) as string[]) : ["/bin/sh", "-c", rest]);

/** the variables an ENV instruction sets, with their values */
function envOf(rest: string): [string, string][] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(rest)) {
    const [name, ...value] = rest.split(" ");
    return [[name!, value.join(" ")]];
  }
  return [...rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"(.*)"$/, "$1")]);
}

interface Target {
  name: string;
  /** the stages it is built from, the first FROM an image */
  chain: Stage[];
  entrypoint: string[];
  cmd: string[];
  env: Map<string, string>;
  user: string | undefined;
  /** the workspace packages whose dist/ the image holds */
  packages: Set<string>;
}

class Dockerfile {
  readonly stages: Stage[];
  readonly targets = new Map<string, Target>();

  constructor(readonly text: string) {
    this.stages = dockerStages(text);
    for (const s of this.stages) {
      const chain = this.chain(s);
      const all = chain.flatMap((c) => c.instructions);
      const last = (op: string) => all.filter((i) => i.op === op).at(-1);
      const entrypoint = last("ENTRYPOINT");
      const cmd = last("CMD");
      if (!entrypoint && !cmd) continue; // a build stage, not an image anybody runs
      this.targets.set(s.name, {
        name: s.name,
        chain,
        entrypoint: entrypoint ? execForm(entrypoint.rest) : [],
        cmd: cmd ? execForm(cmd.rest) : [],
        env: new Map(all.filter((i) => i.op === "ENV").flatMap((i) => envOf(i.rest))),
        user: last("USER")?.rest,
        packages: this.packagesOf(s),
      });
    }
  }

  stage(name: string): Stage | undefined {
    return this.stages.find((s) => s.name === name.toLowerCase());
  }

  chain(s: Stage): Stage[] {
    const base = this.stage(s.base);
    return base ? [...this.chain(base), s] : [s];
  }

  /** the packages whose built dist/ a stage holds: copied from another stage, or the whole /app of one that does */
  packagesOf(s: Stage): Set<string> {
    const out = new Set<string>();
    for (const c of this.chain(s)) {
      for (const i of c.instructions.filter((i) => i.op === "COPY")) {
        const { flags, words } = flagsAndWords(i.rest);
        const from = flags.get("from");
        const source = from !== undefined ? this.stage(from) : undefined;
        if (!source) continue;
        for (const src of words.slice(0, -1)) {
          const m = new RegExp(`^${APP}/([\\w-]+)/dist/?$`).exec(src);
          if (m) out.add(m[1]!);
          else if (src === APP || src === `${APP}/`) for (const p of this.packagesOf(source)) out.add(p);
        }
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// The code: what each process runs (its entry and everything that imports),
// and which environment variables that reads.

interface Pkg {
  dir: string;
  name: string;
  json: Obj;
  /** workspace packages it depends on */
  deps: string[];
}

const packages: Pkg[] = workspacePackages().map((dir) => {
  const json = JSON.parse(read(`${dir}/package.json`)) as Obj;
  const deps = Object.entries(obj(json.dependencies))
    .filter(([, v]) => String(v).startsWith("workspace:"))
    .map(([k]) => k);
  return { dir, name: String(json.name), json, deps };
});
const pkgByName = new Map(packages.map((p) => [p.name, p]));
const pkgByDir = new Map(packages.map((p) => [p.dir, p]));

/** a package and every workspace package it depends on, by directory */
function withDeps(dir: string, seen = new Set<string>()): Set<string> {
  if (seen.has(dir)) return seen;
  seen.add(dir);
  for (const d of pkgByDir.get(dir)?.deps ?? []) {
    const p = pkgByName.get(d);
    if (p) withDeps(p.dir, seen);
  }
  return seen;
}

/** `gateway/dist/x.js` (what runs) → `gateway/src/x.ts` (what is in the repository), if it is there */
function sourceOf(path: string): string | undefined {
  const p = posix.normalize(path.startsWith(`${APP}/`) ? path.slice(APP.length + 1) : path);
  const m = /^([\w-]+)\/(?:dist|src)\/(.+)\.js$/.exec(p);
  const src = m ? `${m[1]}/src/${m[2]}.ts` : p.endsWith(".ts") ? p : undefined;
  return src !== undefined && exists(src) ? src : undefined;
}

/** the `*\/dist/*.js` paths in a command's words (`sh -c "… node x/dist/y.js …"` too) */
const distPaths = (argv: readonly string[]): string[] => argv.flatMap((a) => [...a.matchAll(/(?:\/?[\w.-]+\/)*[\w.-]+\/dist\/[\w./-]+\.js/g)].map((m) => m[0]));

function resolveImport(from: string, spec: string): string | undefined {
  if (spec.startsWith(".")) return sourceOf(posix.join(posix.dirname(from), spec));
  const m = /^(@radiant\/[\w-]+)(?:\/(.+))?$/.exec(spec);
  const pkg = m ? pkgByName.get(m[1]!) : undefined;
  if (!m || !pkg) return undefined; // not ours
  const entry = obj(pkg.json.exports)[m[2] ? `./${m[2]}` : "."];
  const target = typeof entry === "string" ? entry : (scalar(obj(entry).default) ?? (m[2] ? undefined : scalar(pkg.json.main)));
  return target ? sourceOf(posix.join(pkg.dir, target)) : undefined;
}

interface Facts {
  /** files it imports, or starts (`fork(new URL("./x.js", import.meta.url))`) */
  edges: string[];
  reads: Set<string>;
  /** names given as a constant, `int(env, retentionVariables.maxAgeS, …)`: resolved against `constants` */
  readsByName: string[];
  /** `env[route.keyEnv]`: reads the variables the model table's entries name */
  readsModelKeys: boolean;
  /** `keyEnv: "OPENAI_API_KEY"` (the default model table) */
  keyEnvLiterals: string[];
  /** string constants: `const a = "X"` as `a`, `const o = { k: "X" }` as `o.k` */
  constants: Map<string, string>;
  /** calls refuseWrongTopology: refuses to run until `topology apply` was run */
  needsTopology: boolean;
}

const VAR = /^[A-Z][A-Z0-9_]*$/;
const factsCache = new Map<string, Facts>();

/** `env` or `process.env`: every env helper in the code takes the environment first, under one of these names */
const isEnv = (e: ts.Node): boolean =>
  (ts.isIdentifier(e) && e.text === "env") ||
  (ts.isPropertyAccessExpression(e) && e.name.text === "env" && ts.isIdentifier(e.expression) && e.expression.text === "process");

function factsOf(file: string): Facts {
  const cached = factsCache.get(file);
  if (cached) return cached;
  const f: Facts = { edges: [], reads: new Set(), readsByName: [], readsModelKeys: false, keyEnvLiterals: [], constants: new Map(), needsTopology: false };
  const sf = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
  const edge = (spec: string) => {
    const r = resolveImport(file, spec);
    if (r) f.edges.push(r);
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      if (!n.importClause?.isTypeOnly) edge(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      if (!n.isTypeOnly) edge(n.moduleSpecifier.text);
    } else if (ts.isCallExpression(n)) {
      const [first, second] = n.arguments;
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword && first && ts.isStringLiteral(first)) edge(first.text);
      if (ts.isIdentifier(n.expression) && n.expression.text === "refuseWrongTopology") f.needsTopology = true;
      if (first && second && isEnv(first)) {
        if (ts.isStringLiteral(second)) f.reads.add(second.text);
        else if (ts.isIdentifier(second) || ts.isPropertyAccessExpression(second)) f.readsByName.push(second.getText(sf));
      }
    } else if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "URL") {
      const [first, second] = n.arguments ?? [];
      if (first && ts.isStringLiteral(first) && /^\.\.?\/.*\.js$/.test(first.text) && second?.getText(sf) === "import.meta.url") edge(first.text);
    } else if (ts.isPropertyAccessExpression(n) && isEnv(n.expression) && VAR.test(n.name.text)) {
      f.reads.add(n.name.text);
    } else if (ts.isElementAccessExpression(n) && isEnv(n.expression)) {
      const a = n.argumentExpression;
      if (ts.isStringLiteral(a)) f.reads.add(a.text);
      else if (ts.isPropertyAccessExpression(a) && a.name.text === "keyEnv") f.readsModelKeys = true;
    } else if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      let init: ts.Expression = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init)) init = init.expression;
      if (ts.isStringLiteral(init)) f.constants.set(n.name.text, init.text);
      else if (ts.isObjectLiteralExpression(init)) {
        for (const p of init.properties) {
          if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && ts.isStringLiteral(p.initializer))
            f.constants.set(`${n.name.text}.${p.name.text}`, p.initializer.text);
        }
      }
    } else if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && n.name.text === "keyEnv" && ts.isStringLiteral(n.initializer)) {
      f.keyEnvLiterals.push(n.initializer.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  factsCache.set(file, f);
  return f;
}

interface Program {
  files: Set<string>;
  /** every variable it reads; `modelKeys` are added for a process that reads the keys its model table names */
  reads: Set<string>;
  readsModelKeys: boolean;
  needsTopology: boolean;
}

/** What a process started at these entries runs, and reads. File by file: a name read anywhere in a file it loads counts. */
function programOf(entries: string[], modelKeys: readonly string[] = []): Program {
  const files = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    todo.push(...factsOf(f).edges);
  }
  const all = [...files].map(factsOf);
  const constants = new Map(all.flatMap((f) => [...f.constants]));
  const reads = new Set(all.flatMap((f) => [...f.reads]));
  for (const name of all.flatMap((f) => f.readsByName)) {
    const v = constants.get(name);
    if (v !== undefined && VAR.test(v)) reads.add(v);
  }
  const readsModelKeys = all.some((f) => f.readsModelKeys);
  if (readsModelKeys) for (const k of [...all.flatMap((f) => f.keyEnvLiterals), ...modelKeys]) reads.add(k);
  return { files, reads, readsModelKeys, needsTopology: all.some((f) => f.needsTopology) };
}

// ---------------------------------------------------------------------------
// The processes the deploy files start: one per compose service and per
// Kubernetes container, with what each is given.

interface Runner {
  /** "compose gateway", "k8s Deployment/radiant-gateway initContainer topology-ready" */
  where: string;
  target: Target | undefined;
  image: string;
  argv: string[];
  /** the variables it gets: the image's ENV, then the deploy file's */
  env: Map<string, string | undefined>;
  /** the variables the deploy file itself names for it (not the image's) */
  deployEnv: Set<string>;
  /** files mounted into it, by path in the container, with their content */
  files: Map<string, string>;
  /** directories mounted into it (volumes), by path in the container */
  dirs: string[];
  spec: Obj;
}

const dockerfile = new Dockerfile(read(DOCKERFILE));

/** `radiant/gateway:1.2` or `registry/radiant/gateway` → the target `gateway`; other images (nats) → undefined */
function targetOfImage(image: string): Target | undefined {
  const m = /(?:^|\/)radiant\/([\w-]+)(?::[\w.-]+)?$/.exec(image);
  return m ? dockerfile.targets.get(m[1]!) : undefined;
}

const composeDocs = yamlDocs(COMPOSE);
const compose = obj(composeDocs.docs[0]);
const composeServices = obj(compose.services);

function composeRunners(): Runner[] {
  return Object.entries(composeServices).map(([name, raw]) => {
    const s = obj(raw);
    const image = scalar(s.image) ?? "";
    const target = dockerfile.targets.get(scalar(obj(s.build).target) ?? "") ?? targetOfImage(image);
    const argv = [...(argvOf(s.entrypoint) ?? target?.entrypoint ?? []), ...(argvOf(s.command) ?? target?.cmd ?? [])];
    const env = new Map<string, string | undefined>(target?.env ?? []);
    const deployEnv = new Set<string>();
    const given = s.environment;
    const pairs: [string, string | undefined][] = Array.isArray(given)
      ? given.map((e) => {
          const [k, ...v] = String(e).split("=");
          return [k!, v.length > 0 ? v.join("=") : undefined];
        })
      : Object.entries(obj(given)).map(([k, v]) => [k, scalar(v)]);
    for (const [k, v] of pairs) {
      env.set(k, v);
      deployEnv.add(k);
    }
    const files = new Map<string, string>();
    const dirs: string[] = [];
    for (const v of list(s.volumes)) {
      const [host, inContainer] = String(v).split(":");
      if (!host || !inContainer) continue;
      if (/^[./]/.test(host)) {
        const path = posix.normalize(posix.join("infra", host));
        if (exists(path) && statSync(`${root}${path}`).isFile()) files.set(inContainer, read(path));
        else dirs.push(inContainer);
      } else dirs.push(inContainer);
    }
    return { where: `compose ${name}`, target, image, argv, env, deployEnv, files, dirs, spec: s };
  });
}

const kustomization = obj(yamlDocs(`${K8S}/kustomization.yaml`).docs[0]);
const k8sFiles = list(kustomization.resources).map((r) => `${K8S}/${String(r)}`);
const k8sDocs = k8sFiles.filter((f) => exists(f)).flatMap((f) => yamlDocs(f).docs);
const k8sOfKind = (kind: string) => k8sDocs.filter((d) => d.kind === kind);
const k8sNamed = (kind: string, name: string) => k8sOfKind(kind).find((d) => obj(d.metadata).name === name);
const configMapData = (name: string): Obj | undefined => {
  const cm = k8sNamed("ConfigMap", name);
  return cm ? obj(cm.data) : undefined;
};

/** the Secrets kustomization.yaml generates: name → the variables its template (`secrets/x.env.example`) holds */
function generatedSecrets(): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const g of list(kustomization.secretGenerator).map(obj)) {
    const vars = new Map<string, string>();
    for (const file of list(g.envs).map(String)) {
      const template = `${K8S}/${file}.example`;
      if (!exists(template)) continue;
      for (const line of read(template).split("\n")) {
        const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (m) vars.set(m[1]!, m[2]!);
      }
    }
    out.set(String(g.name), vars);
  }
  return out;
}
const secrets = generatedSecrets();

const workloads = () => k8sDocs.filter((d) => ["Deployment", "StatefulSet", "Job", "DaemonSet"].includes(String(d.kind)));
const podSpecOf = (w: Obj) => obj(obj(obj(w.spec).template).spec);
const workloadName = (w: Obj) => `${String(w.kind)}/${String(obj(w.metadata).name)}`;

function k8sRunners(): Runner[] {
  const out: Runner[] = [];
  for (const w of workloads()) {
    const pod = podSpecOf(w);
    const volumes = new Map(list(pod.volumes).map((v) => [String(obj(v).name), obj(v)]));
    for (const [kind, containers] of [
      ["initContainer", pod.initContainers],
      ["container", pod.containers],
    ] as const) {
      for (const c of list(containers).map(obj)) {
        const image = scalar(c.image) ?? "";
        const target = targetOfImage(image);
        const command = argvOf(c.command);
        const args = argvOf(c.args);
        const argv = command ? [...command, ...(args ?? [])] : [...(target?.entrypoint ?? []), ...(args ?? target?.cmd ?? [])];
        const env = new Map<string, string | undefined>(target?.env ?? []);
        const deployEnv = new Set<string>();
        const give = (k: string, v: string | undefined) => {
          env.set(k, v);
          deployEnv.add(k);
        };
        for (const from of list(c.envFrom).map(obj)) {
          const cm = scalar(obj(from.configMapRef).name);
          const secret = scalar(obj(from.secretRef).name);
          if (cm !== undefined) for (const [k, v] of Object.entries(configMapData(cm) ?? {})) give(k, scalar(v));
          if (secret !== undefined) for (const [k, v] of secrets.get(secret) ?? []) give(k, v);
        }
        for (const e of list(c.env).map(obj)) {
          const ref = obj(obj(e.valueFrom).configMapKeyRef);
          give(String(e.name), scalar(e.value) ?? (ref.name !== undefined ? scalar(configMapData(String(ref.name))?.[String(ref.key)]) : undefined));
        }
        const files = new Map<string, string>();
        const dirs: string[] = [];
        for (const m of list(c.volumeMounts).map(obj)) {
          const at = String(m.mountPath);
          const cm = scalar(obj(volumes.get(String(m.name))?.configMap).name);
          // a ConfigMap volume holds its keys and nothing else
          if (cm === undefined) dirs.push(at);
          for (const [k, v] of Object.entries((cm !== undefined && configMapData(cm)) || {})) files.set(`${at}/${k}`, String(v));
        }
        out.push({ where: `k8s ${workloadName(w)} ${kind} ${String(c.name)}`, target, image, argv, env, deployEnv, files, dirs, spec: c });
      }
    }
  }
  return out;
}

const runners = [...composeRunners(), ...k8sRunners()];
const radiantRunners = runners.filter((r) => r.target !== undefined);

/** the model tables and MCP configs a process is given, parsed (a parse failure is reported by the test that reads them) */
function modelTableOf(r: Runner): ModelEntry[] {
  const path = r.env.get("RADIANT_MODELS");
  const content = path !== undefined ? r.files.get(path) : undefined;
  if (content === undefined) return [];
  const doc = JSON.parse(content) as unknown;
  const entries = Array.isArray(doc) ? doc : list(obj(doc).models);
  return entries.map((e, i) => checkEntry(e, `${r.where} ${path} entry ${i}`));
}

function programOfRunner(r: Runner): Program {
  const entries = distPaths(r.argv)
    .map(sourceOf)
    .filter((s): s is string => s !== undefined);
  let keys: string[] = [];
  try {
    keys = modelTableOf(r).flatMap((e) => (e.keyEnv ? [e.keyEnv] : []));
  } catch {
    // an invalid table fails its own test
  }
  return programOf(entries, keys);
}

// ---------------------------------------------------------------------------
// The checks

t.test("every deploy YAML file parses, and kustomization.yaml lists every manifest", async (t) => {
  const yamlFiles = [
    COMPOSE,
    ...readdirSync(`${root}${K8S}`)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => `${K8S}/${f}`),
  ];
  for (const f of yamlFiles) {
    const { docs, errors } = yamlDocs(f);
    t.same(errors, [], `${f} parses`);
    t.ok(docs.length > 0, `${f} holds at least one document`);
  }
  const manifests = yamlFiles.filter((f) => f.startsWith(`${K8S}/`) && !f.endsWith("/kustomization.yaml"));
  t.same([...k8sFiles].sort(), manifests.sort(), "kustomization.yaml lists every manifest in infra/k8s/, and only files that exist");
  for (const d of k8sDocs)
    t.ok(d.apiVersion && d.kind && scalar(obj(d.metadata).name), `${String(d.kind)}/${String(obj(d.metadata).name)} has apiVersion, kind and a name`);
  for (const g of list(kustomization.secretGenerator).map(obj)) {
    for (const file of list(g.envs).map(String)) t.ok(exists(`${K8S}/${file}.example`), `secret ${String(g.name)}: the template ${file}.example is there`);
  }
});

t.test("each service has its own Dockerfile target: node:20-bookworm-slim, not root, pnpm as package.json pins it", async (t) => {
  for (const name of SERVICES) {
    const target = dockerfile.targets.get(name);
    if (!t.ok(target, `target ${name}`) || !target) continue;
    t.equal(target.chain[0]!.base, "node:20-bookworm-slim", `${name}: built on node:20-bookworm-slim (Debian 12's glibc, for the uWS binary)`);
    t.ok(target.user !== undefined && !/^(root|0)(:|$)/.test(target.user), `${name}: runs as a user other than root (USER ${target.user})`);
    t.ok(distPaths([...target.entrypoint, ...target.cmd]).length === 1, `${name}: its ENTRYPOINT/CMD runs one built file`);
    t.match(dockerfile.text, new RegExp(`--target ${name}\\b`), `${name}: the Dockerfile says how to build it`);
  }
  const pinned = /^pnpm@(.+)$/.exec(String(JSON.parse(read("package.json")).packageManager))?.[1];
  const installed = [...dockerfile.text.matchAll(/npm install -g [^\n]*pnpm@(\S+)/g)].map((m) => m[1]);
  t.ok(installed.length > 0 && installed.every((v) => v === pinned), `pnpm ${installed.join(", ")} installed, package.json pins ${pinned}`);
});

t.test("every pnpm install in the Dockerfile has the lockfile and every workspace manifest, and installs what its stage copies in", async (t) => {
  const dirs = workspacePackages();
  let frozen = 0;
  for (const s of dockerfile.stages) {
    const before: Instruction[] = [];
    for (const c of dockerfile.chain(s)) {
      for (const i of c.instructions) {
        if (c === s && i.op === "RUN" && /\bpnpm install\b/.test(i.rest)) {
          t.match(i.rest, /--frozen-lockfile/, `stage ${s.name}: the install keeps to the lockfile`);
          frozen++;
          const copied = new Set(
            before
              .filter((b) => b.op === "COPY" && !/--from=/.test(b.rest))
              .flatMap((b) => flagsAndWords(b.rest).words.slice(0, -1))
              .map((w) => posix.normalize(w)),
          );
          for (const f of ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ...dirs.map((d) => `${d}/package.json`)])
            t.ok(copied.has(f), `stage ${s.name}: ${f} copied before the install`);
          // a filtered install has the dependencies of that package and its workspace packages only
          const filter = /--filter[ =]"?(@radiant\/[\w-]+)\.\.\."?/.exec(i.rest)?.[1];
          if (filter) {
            const covered = withDeps(pkgByName.get(filter)?.dir ?? "?");
            for (const p of dockerfile.packagesOf(s)) t.ok(covered.has(p), `stage ${s.name}: ${p}/dist copied in, its dependencies installed (${filter}...)`);
          }
        }
        before.push(i);
      }
    }
  }
  t.ok(frozen >= 2, `${frozen} installs (the build stage's and the services')`);
  t.ok(
    dockerfile.stages.some((s) => s.instructions.some((i) => i.op === "RUN" && /\bpnpm install --frozen-lockfile\b/.test(i.rest) && !/--prod/.test(i.rest))),
    "a build stage installs everything (dev dependencies too: TypeScript)",
  );
});

/** `.dockerignore` patterns as Docker applies them: the last match wins, a match on a directory covers what is in it */
function dockerIgnored(path: string): boolean {
  const rules = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const glob = posix.normalize(l.replace(/^!/, "").replace(/^\//, ""));
      const re = glob
        .split("/")
        .map((seg) =>
          seg === "**"
            ? "(?:.*)"
            : seg
                .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                .replace(/\*/g, "[^/]*")
                .replace(/\?/g, "[^/]"),
        )
        .join("/")
        .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
      return { negate, re: new RegExp(`^${re}$`) };
    });
  const parts = posix.normalize(path).split("/");
  let ignored = false;
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).join("/");
    for (const r of rules) if (r.re.test(prefix)) ignored = !r.negate;
    if (ignored) return true;
  }
  return false;
}

t.test("every COPY source of the Dockerfile is in the repository and in the build context", async (t) => {
  let n = 0;
  for (const s of dockerfile.stages) {
    for (const i of s.instructions.filter((i) => i.op === "COPY" || i.op === "ADD")) {
      const { flags, words } = flagsAndWords(i.rest);
      if (flags.has("from")) {
        // from another stage: a package's dist/ must be one the build makes
        t.ok(dockerfile.stage(flags.get("from")!), `stage ${s.name}: COPY --from=${flags.get("from")} names a stage`);
        for (const src of words.slice(0, -1)) {
          const m = new RegExp(`^${APP}/([\\w-]+)/dist/?$`).exec(src);
          if (m) t.ok(pkgByDir.has(m[1]!), `stage ${s.name}: ${src} is a workspace package's build`);
        }
        continue;
      }
      for (const src of words.slice(0, -1)) {
        n++;
        t.ok(exists(src), `stage ${s.name}: COPY ${src} exists in the repository`);
        if (src !== ".") t.notOk(dockerIgnored(src), `stage ${s.name}: COPY ${src} is not left out by .dockerignore`);
      }
    }
  }
  t.ok(n >= 10, `${n} sources checked`);
  t.ok(dockerIgnored("gateway/dist") && dockerIgnored("node_modules") && !dockerIgnored("gateway/src/config.ts"), "the .dockerignore reading works");
});

t.test("every entry point a deploy file runs is built from a source in the repository, in a package its image holds", async (t) => {
  const commands: { where: string; argv: string[]; target: Target | undefined }[] = [
    ...[...dockerfile.targets.values()].map((x) => ({ where: `Dockerfile target ${x.name}`, argv: [...x.entrypoint, ...x.cmd], target: x })),
    ...runners.map((r) => ({ where: r.where, argv: r.argv, target: r.target })),
    ...runners.flatMap((r) =>
      list(obj(r.spec.healthcheck).test).length > 0
        ? [{ where: `${r.where} healthcheck`, argv: argvOf(obj(r.spec.healthcheck).test) ?? [], target: r.target }]
        : [],
    ),
  ];
  // stdio MCP servers the bridge starts, from the MCP configs it is given
  for (const r of radiantRunners) {
    const path = r.env.get("RADIANT_MCP_CONFIG");
    const content = path !== undefined ? r.files.get(path) : undefined;
    if (content === undefined) continue;
    for (const s of parseMcpServers(JSON.parse(content), APP)) {
      if (s.kind === "stdio") commands.push({ where: `${r.where} MCP server ${s.name}`, argv: [s.command, ...s.args], target: r.target });
    }
  }
  let n = 0;
  for (const c of commands) {
    for (const p of distPaths(c.argv)) {
      n++;
      const src = sourceOf(p);
      t.ok(src, `${c.where}: ${p} is built from a source in the repository`);
      const pkg = posix.normalize(p.replace(new RegExp(`^${APP}/`), "")).split("/")[0]!;
      if (c.target) t.ok(c.target.packages.has(pkg), `${c.where}: ${p} is in the image (target ${c.target.name} holds ${[...c.target.packages].join(", ")})`);
    }
  }
  t.ok(n >= 15, `${n} entry points checked`);
  for (const r of radiantRunners) t.ok(distPaths(r.argv).length > 0, `${r.where} runs a built file (${r.argv.join(" ")})`);
});

t.test("the collection of the variables the code reads is neither empty nor everything upper case", async (t) => {
  const gateway = programOf(["gateway/src/supervisor.ts"]);
  t.ok(gateway.files.has("gateway/src/gateway_process_main.ts"), "the gateway processes the supervisor forks are part of the gateway");
  for (const v of ["GATEWAY_HEALTH_ADDR", "GATEWAY_TLS_CERT", "GATEWAY_ALLOWED_ORIGINS", "NATS_URL", "LOG_LEVEL", "GATEWAY_WORKER_INDEX", "RADIANT_A2A_CONFIG"])
    t.ok(gateway.reads.has(v), `the gateway reads ${v}`);
  t.notOk(gateway.reads.has("WORKER_CONCURRENCY"), "a worker's setting is not the gateway's");
  const topology = programOf(["infra/src/topology_cli.ts"]);
  for (const v of ["JETSTREAM_REPLICAS", "HISTORY_MAX_AGE", "WORKER_ACK_WAIT_MS"])
    t.ok(topology.reads.has(v), `topology reads ${v} (a name given as a constant)`);
  const egress = programOf(["egress-proxy/src/main.ts"], ["CUSTOM_KEY"]);
  t.ok(egress.readsModelKeys && egress.reads.has("OPENAI_API_KEY") && egress.reads.has("CUSTOM_KEY"), "the egress proxy reads the keys its model table names");
  const worker = programOf(["workers/src/main.ts"], ["CUSTOM_KEY"]);
  t.notOk(worker.reads.has("CUSTOM_KEY"), "workers do not read provider keys");
  const everything = new Set([...gateway.reads, ...topology.reads, ...egress.reads, ...worker.reads]);
  for (const notAVariable of ["MCP_SESSIONS", "HISTORY", "INBOX", "GET"])
    t.notOk(everything.has(notAVariable), `${notAVariable} (a string, not a variable) is not collected`);
  t.ok(worker.needsTopology && !egress.needsTopology, "who refuses to run without the topology is found");
});

t.test("every environment variable a deploy file names is one the code it runs reads", async (t) => {
  for (const r of radiantRunners) {
    const program = programOfRunner(r);
    const unread = [...r.env.keys()].filter((k) => !program.reads.has(k) && !READ_BY_NODE.has(k));
    t.same(unread, [], `${r.where}: every variable it gets is read by ${distPaths(r.argv).join(", ")}`);
    if (program.reads.has("NATS_URL")) t.ok(r.deployEnv.has("NATS_URL"), `${r.where}: told where NATS is (NATS_URL; the default is localhost)`);
  }
  // build stages: nothing of ours runs there, so an ENV must be one some process reads
  const anyRead = new Set(radiantRunners.flatMap((r) => [...programOfRunner(r).reads]));
  for (const s of dockerfile.stages.filter((s) => ![...dockerfile.targets.values()].some((x) => x.chain.includes(s)))) {
    for (const i of s.instructions.filter((i) => i.op === "ENV"))
      for (const [k] of envOf(i.rest)) t.ok(anyRead.has(k), `stage ${s.name}: ENV ${k} is read by the code`);
  }
  // containers that are not ours (NATS): a variable must be one their mounted config refers to ($NAME)
  for (const r of runners.filter((r) => r.target === undefined)) {
    const configs = [...r.files.values()].join("\n");
    for (const k of r.deployEnv) t.match(configs, new RegExp(`\\$${k}\\b`), `${r.where}: ${k} is used by its mounted configuration`);
  }
  // every env ConfigMap and generated Secret is given to some container, and every key it holds is checked above through it
  const given = new Set(
    workloads().flatMap((w) =>
      [...list(podSpecOf(w).containers), ...list(podSpecOf(w).initContainers)].flatMap((c) => [
        ...list(obj(c).envFrom).flatMap((f) => [scalar(obj(obj(f).configMapRef).name), scalar(obj(obj(f).secretRef).name)]),
        ...list(obj(c).env).flatMap((e) => [scalar(obj(obj(obj(e).valueFrom).secretKeyRef).name), scalar(obj(obj(obj(e).valueFrom).configMapKeyRef).name)]),
      ]),
    ),
  );
  const mounted = new Set(workloads().flatMap((w) => list(podSpecOf(w).volumes).map((v) => scalar(obj(obj(v).configMap).name))));
  for (const cm of k8sOfKind("ConfigMap")) {
    const name = String(obj(cm.metadata).name);
    t.ok(given.has(name) || mounted.has(name), `ConfigMap ${name} is used by a container`);
  }
  for (const [name] of secrets) t.ok(given.has(name), `Secret ${name} is given to a container`);
  // a key taken from a Secret must be in it
  for (const w of workloads()) {
    for (const c of list(podSpecOf(w).containers)) {
      for (const e of list(obj(c).env).map(obj)) {
        const ref = obj(obj(e.valueFrom).secretKeyRef);
        if (ref.name === undefined) continue;
        t.ok(
          secrets.get(String(ref.name))?.has(String(ref.key)),
          `${workloadName(w)}: ${String(e.name)} from Secret ${String(ref.name)} key ${String(ref.key)}, which its template holds`,
        );
      }
    }
  }
});

t.test("every file a process is pointed at is mounted, and the model tables and MCP configs are valid", async (t) => {
  let tables = 0;
  for (const r of radiantRunners) {
    for (const k of r.deployEnv) {
      const v = r.env.get(k);
      if (v === undefined || !v.startsWith("/")) continue;
      const mounted = r.files.has(v) || r.dirs.some((d) => v === d || v.startsWith(`${d}/`));
      t.ok(mounted, `${r.where}: ${k}=${v} is mounted`);
    }
    const models = r.env.get("RADIANT_MODELS");
    if (models !== undefined && r.files.has(models)) {
      tables++;
      t.doesNotThrow(() => modelTableOf(r), `${r.where}: ${models} is a valid model table`);
    }
    const mcp = r.env.get("RADIANT_MCP_CONFIG");
    const mcpText = mcp !== undefined ? r.files.get(mcp) : undefined;
    if (mcpText !== undefined) t.doesNotThrow(() => parseMcpServers(JSON.parse(mcpText), APP), `${r.where}: ${mcp} is a valid MCP config`);
  }
  t.ok(tables >= 4, `${tables} model tables checked`);
  // the same table for workers and egress proxies: a model the workers route must be one the proxy can reach
  for (const [where, rs] of [
    ["compose", radiantRunners.filter((r) => r.where.startsWith("compose "))],
    ["k8s", radiantRunners.filter((r) => r.where.startsWith("k8s "))],
  ] as const) {
    const byTable = new Set(rs.filter((r) => r.env.get("RADIANT_MODELS") !== undefined).map((r) => r.files.get(r.env.get("RADIANT_MODELS")!) ?? ""));
    t.equal(byTable.size, 1, `${where}: workers and egress proxy read one model table`);
  }
  // compose: an upstream on loopback is reachable only from the network it listens in
  const egress = composeRunners().find((r) => r.target?.name === "egress-proxy");
  for (const e of egress ? modelTableOf(egress) : []) {
    const u = new URL(e.baseUrl);
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost") continue;
    const owner = /^service:(.+)$/.exec(scalar(egress?.spec.network_mode) ?? "")?.[1];
    const upstream = composeRunners().find((r) => r.where === `compose ${owner}`);
    const ports = [...(upstream?.env ?? [])].filter(([k]) => /^ECHO_\w+_PORT$/.test(k)).map(([, v]) => v);
    t.ok(
      upstream && ports.includes(u.port),
      `compose: ${e.match} (${e.baseUrl}) listens in the egress proxy's network (network_mode: service:${owner}, ports ${ports.join(", ")})`,
    );
  }
});

/** the port of a `host:port` / `:port` listen address, or of a URL */
const portOf = (addr: string): number => Number(/:(\d+)\/?$/.exec(addr)?.[1] ?? NaN);

/** A variable's default in the code: the literal after its name in `int(env, "NAME", 10_000, …)` / `listenAddr(env, "NAME", ":8080")`. */
function codeDefault(file: string, name: string): string | undefined {
  let out: string | undefined;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.arguments.length >= 3 && isEnv(n.arguments[0]!)) {
      const [, nameArg, dflt] = n.arguments;
      if (nameArg && ts.isStringLiteral(nameArg) && nameArg.text === name && dflt) {
        if (ts.isStringLiteral(dflt)) out = dflt.text;
        else if (ts.isNumericLiteral(dflt)) out = dflt.text.replace(/_/g, "");
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true));
  return out;
}

const gatewayRunners = () => radiantRunners.filter((r) => distPaths(r.argv).some((p) => sourceOf(p) === "gateway/src/supervisor.ts"));
const egressRunners = () => radiantRunners.filter((r) => distPaths(r.argv).some((p) => sourceOf(p) === "egress-proxy/src/main.ts"));

/** a container's port by name or number */
function containerPort(c: Obj, port: unknown): number {
  if (typeof port === "number") return port;
  const p = list(c.ports)
    .map(obj)
    .find((x) => x.name === port);
  return Number(p?.containerPort ?? NaN);
}

t.test("the gateway's probes hit /health on the port GATEWAY_HEALTH_ADDR names; the egress proxy's /health on its port", async (t) => {
  const dflt = codeDefault("gateway/src/config.ts", "GATEWAY_HEALTH_ADDR");
  t.equal(dflt, ":8080", "the code's default health address is found");
  const checkProbes = (rs: Runner[], what: string, port: (r: Runner) => number) => {
    t.ok(rs.length >= 2, `${what}: ${rs.length} deployments (compose and k8s)`);
    for (const r of rs) {
      const want = port(r);
      if (r.where.startsWith("compose ")) {
        const test = (argvOf(obj(r.spec.healthcheck).test) ?? []).join(" ");
        t.match(test, new RegExp(`:${want}/health\\b`), `${r.where}: the healthcheck asks /health on ${want}`);
        continue;
      }
      for (const kind of ["readinessProbe", "livenessProbe"]) {
        const get = obj(obj(r.spec[kind]).httpGet);
        t.equal(get.path, "/health", `${r.where}: ${kind} asks /health`);
        t.equal(containerPort(r.spec, get.port), want, `${r.where}: ${kind} on port ${want}`);
      }
      const startup = obj(obj(r.spec.startupProbe).httpGet);
      if (startup.path !== undefined)
        t.ok(startup.path === "/health" && containerPort(r.spec, startup.port) === want, `${r.where}: startupProbe on /health:${want}`);
    }
  };
  checkProbes(gatewayRunners(), "gateway", (r) => portOf(r.env.get("GATEWAY_HEALTH_ADDR") ?? dflt ?? ""));
  checkProbes(egressRunners(), "egress proxy", (r) =>
    portOf(r.env.get("EGRESS_PROXY_URL") ?? codeDefault("egress-proxy/src/config.ts", "EGRESS_PROXY_URL") ?? ""),
  );
});

/** compose's duration: `30s`, `1m30s`, `500ms` → seconds */
function seconds(d: string): number {
  let s = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) s += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as "ms" | "s" | "m" | "h"];
  return s;
}

t.test("the gateway is given longer to stop than its drain takes", async (t) => {
  const dflt = Number(codeDefault("gateway/src/config.ts", "GATEWAY_SHUTDOWN_GRACE_MS"));
  t.equal(dflt, 10_000, "the code's default grace is found");
  // after the grace, the supervisor waits this long more before it kills its processes
  const backstop = Number(/shutdownGraceMs \+ (\d[\d_]*)/.exec(read("gateway/src/supervisor.ts"))?.[1]?.replace(/_/g, "") ?? NaN);
  t.ok(backstop >= 0, `the supervisor's backstop after the grace: ${backstop} ms`);
  for (const r of gatewayRunners()) {
    const graceS = Number(r.env.get("GATEWAY_SHUTDOWN_GRACE_MS") ?? dflt) / 1000;
    if (r.where.startsWith("compose ")) {
      const stop = seconds(scalar(r.spec.stop_grace_period) ?? "10s");
      t.ok(stop > graceS + backstop / 1000, `${r.where}: stop_grace_period ${stop} s > grace ${graceS} s + ${backstop / 1000} s`);
      continue;
    }
    const w = workloads().find((w) => list(podSpecOf(w).containers).includes(r.spec))!;
    const tgps = Number(podSpecOf(w).terminationGracePeriodSeconds ?? 30);
    const preStop = obj(obj(r.spec.lifecycle).preStop);
    const sleepS = Number(obj(preStop.sleep).seconds ?? /^sleep (\d+)$/.exec((argvOf(obj(preStop.exec).command) ?? []).join(" "))?.[1] ?? 0);
    t.ok(tgps > graceS, `${r.where}: terminationGracePeriodSeconds ${tgps} > GATEWAY_SHUTDOWN_GRACE_MS ${graceS} s`);
    t.ok(tgps > sleepS + graceS + backstop / 1000, `${r.where}: ${tgps} s > preStop ${sleepS} s + grace ${graceS} s + ${backstop / 1000} s`);
  }
});

/** `nats://host:port` URLs in a text */
const natsHosts = (s: string, port?: number) =>
  [...s.matchAll(/nats(?:-route)?:\/\/([\w.-]+):(\d+)/g)].filter((m) => port === undefined || Number(m[2]) === port).map((m) => m[1]!);
const routesOf = (conf: string) => natsHosts(/routes\s*[:=]?\s*\[([\s\S]*?)\]/.exec(conf)?.[1] ?? "");
const confPort = (conf: string, key: "port" | "cluster") =>
  Number((key === "port" ? /^port\s*[:=]\s*(\d+)/m : /cluster\s*\{[\s\S]*?\bport\s*[:=]\s*(\d+)/).exec(conf)?.[1] ?? NaN);

t.test("compose: a 3-node NATS cluster whose routes name each other, and NATS_URL names all three", async (t) => {
  const nodes = composeRunners().filter((r) => /^nats:2\.10-alpine$/.test(r.image));
  t.equal(nodes.length, 3, "three NATS services on nats:2.10-alpine");
  const names = nodes.map((n) => n.where.replace("compose ", "")).sort();
  const dataVolumes = new Set<string>();
  let clientPort = NaN;
  for (const n of nodes) {
    const argv = n.argv.join(" ");
    const name = n.where.replace("compose ", "");
    t.match(argv, new RegExp(`(--server_name|--name|-n) ${name}\\b`), `${name}: named ${name}`);
    const confPath = /-c (\S+)/.exec(argv)?.[1] ?? "";
    const conf = n.files.get(confPath);
    if (!t.ok(conf, `${name}: its configuration ${confPath} is mounted`) || conf === undefined) continue;
    t.match(conf, /jetstream\s*\{/, `${name}: JetStream on`);
    t.same(routesOf(conf).sort(), names, `${name}: routes name ${names.join(", ")}`);
    t.ok(natsHosts(/routes\s*[:=]?\s*\[([\s\S]*?)\]/.exec(conf)?.[1] ?? "", confPort(conf, "cluster")).length === 3, `${name}: routes go to the cluster port`);
    clientPort = confPort(conf, "port");
    const store = /store_dir\s*[:=]\s*"?([^\s"]+)/.exec(conf)?.[1];
    const volume = list(n.spec.volumes)
      .map(String)
      .find((v) => v.split(":")[1] === store);
    t.ok(volume && !/^[./]/.test(volume), `${name}: its store ${store} is a named volume (${volume})`);
    if (volume) dataVolumes.add(volume.split(":")[0]!);
    t.ok(list(obj(n.spec.healthcheck).test).length > 0, `${name}: a healthcheck`);
  }
  t.equal(dataVolumes.size, 3, "each node its own volume");
  for (const r of composeRunners().filter((r) => r.env.has("NATS_URL"))) {
    t.same(natsHosts(r.env.get("NATS_URL") ?? "", clientPort).sort(), names, `${r.where}: NATS_URL names ${names.join(", ")} on ${clientPort}`);
  }
});

t.test("k8s: a 3-node NATS StatefulSet whose routes name each pod, and NATS_URL names all three", async (t) => {
  const sts = k8sOfKind("StatefulSet").find((s) => list(podSpecOf(s).containers).some((c) => /^nats:/.test(String(obj(c).image))));
  if (!t.ok(sts, "a NATS StatefulSet") || !sts) return;
  const name = String(obj(sts.metadata).name);
  const replicas = Number(obj(sts.spec).replicas);
  t.equal(replicas, 3, "three replicas");
  const svcName = String(obj(sts.spec).serviceName);
  const svc = k8sNamed("Service", svcName);
  t.equal(obj(svc?.spec).clusterIP, "None", `its serviceName ${svcName} is a headless Service`);
  t.equal(obj(svc?.spec).publishNotReadyAddresses, true, `${svcName} resolves pods before they are ready (the routes form the cluster)`);
  const labels = obj(obj(obj(obj(sts.spec).template).metadata).labels);
  t.ok(
    Object.entries(obj(obj(svc?.spec).selector)).every(([k, v]) => labels[k] === v),
    `${svcName} selects the NATS pods`,
  );
  t.ok(list(obj(sts.spec).volumeClaimTemplates).length > 0, "each pod its own volume (volumeClaimTemplates)");
  const node = runners.find((r) => r.where.startsWith(`k8s StatefulSet/${name} container`))!;
  const confPath = /-c (\S+)/.exec(node.argv.join(" "))?.[1] ?? "";
  const conf = node.files.get(confPath);
  if (!t.ok(conf, `its configuration ${confPath} is mounted`) || conf === undefined) return;
  const pods = Array.from({ length: replicas }, (_, i) => `${name}-${i}.${svcName}`).sort();
  t.same(routesOf(conf).sort(), pods, `routes name ${pods.join(", ")}`);
  for (const r of radiantRunners.filter((r) => r.where.startsWith("k8s ") && r.env.has("NATS_URL"))) {
    // `pod.service`, whatever the namespace and cluster domain after it
    const hosts = natsHosts(r.env.get("NATS_URL") ?? "", confPort(conf, "port")).map((h) => h.split(".").slice(0, 2).join("."));
    t.same(hosts.sort(), pods, `${r.where}: NATS_URL names ${pods.join(", ")}`);
  }
});

const runsTopology = (r: Runner, verb: "apply" | "check") =>
  distPaths(r.argv).some((p) => sourceOf(p) === "infra/src/topology_cli.ts") && new RegExp(`\\btopology ${verb}\\b`).test(r.argv.join(" "));

t.test("the topology job runs before the gateway, the workers and the MCP bridge", async (t) => {
  // compose: a one-shot service they wait for
  const jobs = composeRunners().filter((r) => runsTopology(r, "apply"));
  t.equal(jobs.length, 1, "compose: one service runs `topology apply`");
  const job = jobs[0];
  const nats = composeRunners().filter((r) => /^nats:/.test(r.image));
  if (job) {
    const name = job.where.replace("compose ", "");
    t.equal(job.env.get("JETSTREAM_REPLICAS"), String(nats.length), `compose: ${name} makes the streams R${nats.length}`);
    for (const n of nats) {
      t.equal(
        obj(obj(job.spec.depends_on)[n.where.replace("compose ", "")]).condition,
        "service_healthy",
        `compose: ${name} waits for ${n.where.replace("compose ", "")} to be healthy`,
      );
    }
    const needing = composeRunners().filter((r) => r.target && programOfRunner(r).needsTopology);
    t.ok(needing.length >= 3, `compose: ${needing.map((r) => r.where).join(", ")} need it`);
    for (const r of needing) {
      t.equal(obj(obj(r.spec.depends_on)[name]).condition, "service_completed_successfully", `${r.where} starts after ${name} completed successfully`);
    }
  }
  // k8s: a Job, and pods that wait in an initContainer until `topology check` passes
  const k8sJobs = radiantRunners.filter((r) => r.where.startsWith("k8s Job/") && runsTopology(r, "apply"));
  t.equal(k8sJobs.length, 1, "k8s: a Job runs `topology apply`");
  const sts = k8sOfKind("StatefulSet").find((s) => list(podSpecOf(s).containers).some((c) => /^nats:/.test(String(obj(c).image))));
  t.equal(k8sJobs[0]?.env.get("JETSTREAM_REPLICAS"), String(obj(sts?.spec).replicas), "k8s: the Job makes the streams as many copies as there are NATS pods");
  const needing = radiantRunners.filter((r) => r.where.startsWith("k8s ") && / container /.test(r.where) && programOfRunner(r).needsTopology);
  t.ok(needing.length >= 3, `k8s: ${needing.map((r) => r.where).join(", ")} need it`);
  for (const r of needing) {
    const workload = r.where.split(" ")[1]!;
    const waits = radiantRunners.filter((i) => i.where.startsWith(`k8s ${workload} initContainer`) && runsTopology(i, "check"));
    t.equal(waits.length, 1, `${r.where}: an initContainer waits for \`topology check\` to pass`);
    if (waits[0]) t.match(waits[0].argv.join(" "), /until .*topology check/, `${r.where}: and retries it until it does`);
  }
});

t.test("the Makefile's docker targets use the compose file", async (t) => {
  const compose = /^COMPOSE\s*:=\s*docker compose -f (\S+)/m.exec(read("Makefile"))?.[1];
  t.equal(compose, COMPOSE, "COMPOSE names infra/docker-compose.yml");
  for (const svc of Object.values(composeServices).map(obj)) {
    const build = obj(svc.build);
    if (build.dockerfile === undefined) continue;
    t.equal(
      posix.normalize(posix.join("infra", String(build.context), String(build.dockerfile))),
      DOCKERFILE,
      `compose builds ${String(build.target)} from ${DOCKERFILE}`,
    );
  }
});
