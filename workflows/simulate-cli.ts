import { readFile } from "node:fs/promises";
import { z } from "zod";
import { policySettingsSchema, type PolicySettings } from "../nodes/channels/policies/settings";
import { simulate, type SimulateInput } from "./simulate";

/**
 * Body of `waypost simulate <journey.json> <timeline.json>` (the CLI wiring lives in the CLI).
 * The timeline file format is documented in docs/nodes.md ("timeline.json").
 */

const time = z.union([z.string().min(1), z.number()]);
const entry = z.object({
  at: time,
  userId: z.string().min(1),
  event: z.object({ name: z.string().min(1), properties: z.record(z.unknown()).default({}) }),
});
const user = z.object({
  id: z.string().min(1),
  traits: z.record(z.unknown()).default({}),
  timezone: z.string().nullable().optional(),
  segments: z.array(z.string()).optional(),
  consent: z.record(z.object({ marketing: z.boolean().optional(), transactional: z.boolean().optional() })).optional(),
  suppressions: z
    .record(z.array(z.object({ scope: z.enum(["marketing", "all"]), reason: z.enum(["unsubscribed", "complaint", "bounced", "manual"]) })))
    .optional(),
  reachable: z.object({ push: z.boolean().optional(), sms: z.boolean().optional(), email: z.boolean().optional() }).optional(),
});
const outcome = z.object({
  nodeId: z.string().min(1),
  userId: z.string().optional(),
  attempt: z.number().int().positive().optional(),
  result: z.string().min(1),
  reason: z.string().optional(),
  deferMs: z.number().int().positive().optional(),
  delivery: z.enum(["delivered", "failed", "none"]).optional(),
  deliveryDelayMs: z.number().int().min(0).optional(),
});

/** Shorthand: just the events; users are created bare as they appear. */
export const timelineListSchema = z.array(entry);

export const timelineFileSchema = z.object({
  users: z.array(user).default([]),
  timeline: z.array(entry),
  start: time.optional(),
  until: time.optional(),
  workspaceTimezone: z.string().optional(),
  journeyId: z.string().optional(),
  actionOutcomes: z.array(outcome).optional(),
  quietHours: z.object({ start: z.string(), end: z.string() }).optional(),
  /** Sending policies as in Settings › Channels › Policies; they win over the workspace's. */
  policies: policySettingsSchema.optional(),
});

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Accepts a bare journey document or an export that wraps it as `{ document }`. */
function documentOf(json: unknown): unknown {
  if (json && typeof json === "object" && !("schemaVersion" in json) && "document" in json) {
    return (json as { document: unknown }).document;
  }
  return json;
}

/**
 * `workspacePolicies`: the workspace's sending policies (the CLI reads them from the database), so
 * messages are held, refused or capped as the engine would; a timeline file's own `policies` win.
 */
export async function runSimulateCommand(journeyPath: string, timelinePath: string, options: { workspacePolicies?: PolicySettings } = {}): Promise<string> {
  const document = documentOf(await readJson(journeyPath, "journey"));
  const json = await readJson(timelinePath, "timeline");
  // Parsed separately (not as a union) so errors name the exact bad field.
  const parsed = Array.isArray(json) ? timelineListSchema.safeParse(json) : timelineFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`timeline ${timelinePath} is invalid: ${problems}`);
  }
  const file = parsed.data;
  const input: SimulateInput = Array.isArray(file) ? { document, users: [], timeline: file } : { document, ...file };
  const policies = (Array.isArray(file) ? undefined : file.policies) ?? options.workspacePolicies;
  if (policies) input.policies = policies;
  return JSON.stringify(simulate(input), null, 2);
}
