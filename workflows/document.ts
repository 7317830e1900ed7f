import { z } from "zod";
import { eventMatcherSchema } from "../nodes/filters";
import { getNodeDefinition } from "../nodes/registry";
import type { AnyNodeDefinition } from "../nodes/define";

/**
 * The journey document: what the canvas saves, what export/import exchanges, and what each
 * journey version stores. `schemaVersion` versions the envelope; each node carries its own
 * `typeVersion` so node configs migrate independently.
 */
export const JOURNEY_SCHEMA_VERSION = 1;

export const entrySettingsSchema = z
  .object({
    /**
     * once = never re-enter; cooldown = again `cooldownMs` after the previous entry, and never
     * while still inside; concurrent = any time, even while another run is active.
     */
    rule: z.enum(["once", "cooldown", "concurrent"]),
    cooldownMs: z.number().int().positive().optional(),
    caps: z
      .object({
        perHour: z.number().int().positive().optional(),
        perDay: z.number().int().positive().optional(),
        total: z.number().int().positive().optional(),
      })
      .optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.rule === "cooldown" && entry.cooldownMs === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["cooldownMs"], message: "required for the cooldown rule" });
    }
  });
export type EntrySettings = z.infer<typeof entrySettingsSchema>;

export const journeySettingsSchema = z.object({
  entry: entrySettingsSchema.default({ rule: "once" }),
  holdoutPercent: z.number().min(0).max(100).default(0),
  /** Conversion: the goal event within `windowMs` of entry. */
  goal: eventMatcherSchema.extend({ windowMs: z.number().int().positive() }).optional(),
  /** Events that end the journey early. */
  exitEvents: z.array(eventMatcherSchema).default([]),
  /** The journey's zone (schedules, journey-zone dates, fallback before the workspace zone). */
  timezone: z.string().optional(),
});
export type JourneySettings = z.infer<typeof journeySettingsSchema>;

export const journeyNodeSchema = z.object({
  id: z.string().min(1).max(64),
  type: z.string().min(1),
  typeVersion: z.number().int().positive(),
  /** Validated by the node's own schema at compile time, not here: drafts may be incomplete. */
  config: z.unknown(),
  position: z.object({ x: z.number(), y: z.number() }),
  label: z.string().optional(),
});
export type JourneyNode = z.infer<typeof journeyNodeSchema>;

export const journeyEdgeSchema = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  sourcePort: z.string().min(1),
  target: z.string().min(1),
});
export type JourneyEdge = z.infer<typeof journeyEdgeSchema>;

export const journeyDocumentSchema = z
  .object({
    schemaVersion: z.literal(JOURNEY_SCHEMA_VERSION),
    name: z.string().min(1),
    settings: journeySettingsSchema,
    nodes: z.array(journeyNodeSchema),
    edges: z.array(journeyEdgeSchema),
  })
  .superRefine((doc, ctx) => {
    const unique = (items: { id: string }[], key: "nodes" | "edges") => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, i, "id"], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    };
    unique(doc.nodes, "nodes");
    unique(doc.edges, "edges");
  });
export type JourneyDocument = z.infer<typeof journeyDocumentSchema>;
/** The document as authored (defaults not yet applied). */
export type JourneyDocumentInput = z.input<typeof journeyDocumentSchema>;

export interface DocumentError {
  /** Field path such as `nodes.2.position.x` (empty for the root). */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; document: JourneyDocument } | { ok: false; errors: DocumentError[] };

/** Parses a document from a JSON string or an already-decoded value. */
export function parseJourneyDocument(json: unknown): ParseResult {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      return { ok: false, errors: [{ path: "", message: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` }] };
    }
  }
  const parsed = journeyDocumentSchema.safeParse(value);
  if (parsed.success) return { ok: true, document: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) };
}

export type DefinitionLookup = (type: string) => AnyNodeDefinition | undefined;

/**
 * Brings every node's config up to its definition's current version by calling `migrate`.
 * Unknown types and configs already current are left untouched (the compiler reports them).
 * A node newer than its definition is left alone too: it was written by newer code.
 */
export function migrateDocument(document: JourneyDocument, lookup: DefinitionLookup = getNodeDefinition): JourneyDocument {
  let changed = false;
  const nodes = document.nodes.map((node) => {
    const def = lookup(node.type);
    if (!def || node.typeVersion >= def.version) return node;
    changed = true;
    const config = def.migrate ? def.migrate(node.config, node.typeVersion) : node.config;
    return { ...node, typeVersion: def.version, config };
  });
  return changed ? { ...document, nodes } : document;
}
