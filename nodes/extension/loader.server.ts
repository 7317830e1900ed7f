import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire, register } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import type { AnyNodeDefinition } from "../define";
import { getNodeDefinition, registerNode, unregisterNode } from "../registry";
import { registerNodeRuntime, unregisterNodeRuntime } from "../registry.server";
import { processShared } from "../shared-state";
import type { RuntimeLogger } from "../runtime";
import { toNodeDefinition } from "./adapt";
import { EXTENSION_API_MAJOR, EXTENSION_API_VERSION, type Extension, type ExtensionNode } from "./index";
import { toNodeRun } from "./run.server";
import { installExtensionProviders } from "../channels/custom-providers.server";

/**
 * Loads the extensions a deployment names in WAYPOST_EXTENSIONS (comma-separated npm package
 * names or folder/file paths) into this process: the app, the embedded workers and the Temporal
 * worker's activities all call it at start (cli/services.ts). Each extension is resolved,
 * imported (TypeScript or JavaScript, ESM), validated and registered whole — or refused with its
 * error, which is logged and listed on Settings › Extensions. A refused extension never stops
 * the process. The Temporal workflow bundle does not load extensions: it runs compiled programs,
 * which carry every custom node's outputs, and custom nodes run as activities.
 */

export interface ExtensionStatus {
  /** As written in WAYPOST_EXTENSIONS. */
  spec: string;
  /** package.json name (or the file name when there is none). */
  name: string;
  version: string;
  /** Entry module loaded (or tried). */
  path?: string;
  status: "loaded" | "refused";
  error?: string;
  nodes: Array<{ id: string; version: number; title: { en: string; zh: string } }>;
  providers: number;
}

/** Another part of the extension (channel providers): installed after the nodes, may refuse the extension by throwing. */
export type ExtensionPartInstaller = (extension: Extension, status: ExtensionStatus) => void | (() => void);

// Per process, whichever copy of this module is asking (the Remix server build bundles its own; decision 0901).
const loaded = processShared("extensions-loaded", () => [] as ExtensionStatus[]);
const undoers = processShared("extensions-undo", () => new Map<string, () => void>());
// Channel providers install with every extension (nodes/channels/custom-providers.server.ts).
const installers: ExtensionPartInstaller[] = [installExtensionProviders];
const hook = processShared("extension-resolve-hook", () => ({ installed: false }));

/** For the channel-provider half of the API (nodes/channels/provider.ts): called for each extension. */
export function registerExtensionPartInstaller(installer: ExtensionPartInstaller): void {
  if (!installers.includes(installer)) installers.push(installer);
}

/** What was loaded or refused in this process, in WAYPOST_EXTENSIONS order. */
export function extensionStatuses(): ExtensionStatus[] {
  return loaded.map((s) => ({ ...s, nodes: [...s.nodes] }));
}

export function parseExtensionList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Binds `waypost/extension` (and `/testing`) to this Waypost for every module loaded after it. */
export function installResolveHook(): void {
  if (hook.installed) return;
  hook.installed = true;
  const api = new URL("./index.ts", import.meta.url).href;
  const testing = new URL("./testing.ts", import.meta.url).href;
  register(new URL("./resolve-hook.mjs", import.meta.url), { data: { targets: { "waypost/extension": api, "waypost/extension/testing": testing } } });
}

interface Resolved {
  entry: string;
  name: string;
  version: string;
  /** Loaded as an ES module (CommonJS cannot `import` the API the way the tutorial shows). */
  esm: boolean;
  dir: string;
}

function readPackage(dir: string): { name?: string; version?: string; main?: string; exports?: unknown; type?: string } | undefined {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8"));
}

function entryOfPackage(dir: string, pkg: ReturnType<typeof readPackage>): string {
  const exported = pkg?.exports;
  const dot = typeof exported === "string" ? exported : exported && typeof exported === "object" ? (exported as Record<string, unknown>)["."] : undefined;
  const fromExports = typeof dot === "string" ? dot : dot && typeof dot === "object" ? ((dot as Record<string, unknown>).import ?? (dot as Record<string, unknown>).default) : undefined;
  const candidates = [typeof fromExports === "string" ? fromExports : undefined, pkg?.main, "index.ts", "index.js", "index.mjs", "src/index.ts"].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    const file = resolve(dir, candidate);
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  throw new Error(`no entry module in ${dir} (tried ${candidates.join(", ")})`);
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith(".") || isAbsolute(spec) || spec.includes("\\") || /^[a-zA-Z]:/.test(spec);
}

export function resolveExtension(spec: string, cwd: string): Resolved {
  let dir: string;
  let entry: string | undefined;
  if (looksLikePath(spec)) {
    const target = resolve(cwd, spec);
    if (!existsSync(target)) throw new Error(`${target} does not exist`);
    if (statSync(target).isDirectory()) dir = target;
    else {
      entry = target;
      dir = dirname(target);
    }
  } else {
    // An npm package installed next to the deployment (or next to Waypost itself).
    const bases = [join(cwd, "package.json"), join(process.cwd(), "package.json"), new URL("../../package.json", import.meta.url).pathname];
    let found: string | undefined;
    for (const base of bases) {
      try {
        found = createRequire(base).resolve(`${spec}/package.json`);
        break;
      } catch {
        // try the next place
      }
    }
    if (!found) throw new Error(`package "${spec}" is not installed (npm install ${spec} next to Waypost)`);
    dir = dirname(found);
  }
  const pkg = readPackage(dir);
  entry ??= entryOfPackage(dir, pkg);
  return { entry, name: pkg?.name ?? spec, version: pkg?.version ?? "0.0.0", esm: /\.m[jt]s$/.test(entry) || pkg?.type === "module", dir };
}

function isExtension(value: unknown): value is Extension {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "waypost.extension";
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0];
  return String(error);
}

/** Custom inspector modules by node type: absolute paths, checked at load time, served to the canvas. */
const inspectorModules = processShared("extension-inspector-modules", () => new Map<string, string>());

export function inspectorModuleOf(nodeType: string): string | undefined {
  return inspectorModules.get(nodeType);
}

/** Registers one extension's nodes and other parts, all or none; returns how to take them out again. */
function install(extension: Extension, status: ExtensionStatus, entry: string): () => void {
  const undo: Array<() => void> = [];
  try {
    for (const node of extension.nodes as ExtensionNode[]) {
      if (getNodeDefinition(node.id)) throw new Error(`node type "${node.id}" is already registered (by Waypost or another extension)`);
      if (node.inspector?.component) {
        const file = resolve(dirname(entry), node.inspector.component);
        if (!existsSync(file)) throw new Error(`node ${node.id}: inspector.component ${file} does not exist`);
        inspectorModules.set(node.id, file);
        undo.push(() => inspectorModules.delete(node.id));
      }
      const definition: AnyNodeDefinition = toNodeDefinition(node);
      registerNode(definition);
      undo.push(() => unregisterNode(node.id));
      registerNodeRuntime(node.id, toNodeRun(node));
      undo.push(() => unregisterNodeRuntime(node.id));
      status.nodes.push({ id: node.id, version: node.version, title: node.title });
    }
    for (const installer of installers) {
      const undoPart = installer(extension, status);
      if (undoPart) undo.push(undoPart);
    }
    status.providers = extension.providers.length;
  } catch (error) {
    for (const step of undo.reverse()) step();
    status.nodes = [];
    throw error;
  }
  return () => undo.reverse().forEach((step) => step());
}

/**
 * Takes a loaded extension's parts out of this process. A deployment changes extensions by
 * restarting; tests use this to play "restart with the upgraded package" in one process.
 */
export function unloadExtension(spec: string): void {
  undoers.get(spec)?.();
  undoers.delete(spec);
  const index = loaded.findIndex((s) => s.spec === spec);
  if (index >= 0) loaded.splice(index, 1);
}

export interface LoadOptions {
  /** Relative paths resolve from here (default: the process's working directory). */
  cwd?: string;
  log?: RuntimeLogger;
}

/** Loads every extension of the list; never throws for a broken one. */
export async function loadExtensions(list: string | string[] | undefined, options: LoadOptions = {}): Promise<ExtensionStatus[]> {
  const specs = Array.isArray(list) ? list : parseExtensionList(list);
  const results: ExtensionStatus[] = [];
  for (const spec of specs) results.push(await loadExtension(spec, options));
  return results;
}

export async function loadExtension(spec: string, options: LoadOptions = {}): Promise<ExtensionStatus> {
  const cwd = options.cwd ?? process.cwd();
  const status: ExtensionStatus = { spec, name: spec, version: "", status: "refused", nodes: [], providers: 0 };
  const previous = loaded.findIndex((s) => s.spec === spec && s.status === "loaded");
  if (previous >= 0) return loaded[previous];
  try {
    const resolved = resolveExtension(spec, cwd);
    Object.assign(status, { name: resolved.name, version: resolved.version, path: resolved.entry });
    if (!resolved.esm) throw new Error(`${join(resolved.dir, "package.json")} must exist and say "type": "module" (extensions are ES modules)`);
    installResolveHook();
    const module = (await tsImport(pathToFileURL(resolved.entry).href, import.meta.url)) as { default?: unknown };
    const extension = module.default;
    if (!isExtension(extension)) {
      throw new Error(`${resolved.entry} must default-export defineExtension({ apiVersion: ${EXTENSION_API_MAJOR}, nodes: [...] }) from "waypost/extension"`);
    }
    if (extension.apiVersion !== EXTENSION_API_MAJOR) {
      throw new Error(`written for extension API ${extension.apiVersion}, this Waypost has ${EXTENSION_API_VERSION}`);
    }
    undoers.set(spec, install(extension, status, resolved.entry));
    status.status = "loaded";
    options.log?.info("extension loaded", { extension: status.name, version: status.version, nodes: status.nodes.map((n) => n.id) });
  } catch (error) {
    status.status = "refused";
    status.error = describeError(error);
    options.log?.error("extension refused", { extension: status.name, spec, error: status.error });
  }
  const index = loaded.findIndex((s) => s.spec === spec);
  if (index >= 0) loaded[index] = status;
  else loaded.push(status);
  return status;
}
