import { z } from "zod";
import { pauseChoices } from "../ops/views";

/**
 * Response shapes of the management API (/api/v1, secret key). The OpenAPI document is generated
 * from these, and the API tests validate real responses against them, so the two cannot drift.
 */

const isoDate = z.string().describe("ISO-8601 date-time (UTC)");
const nullableDate = isoDate.nullable();

export const apiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export const consentSchema = z.record(z.object({ marketing: z.boolean().optional(), transactional: z.boolean().optional() }));

export const userProfileSchema = z.object({
  id: z.string(),
  anonymousId: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  timezone: z.string().nullable(),
  tags: z.array(z.string()),
  traits: z.record(z.unknown()),
  consent: consentSchema,
  firstSeenAt: isoDate,
  lastSeenAt: isoDate,
  updatedAt: isoDate,
  segments: z.array(z.object({ id: z.string().uuid(), key: z.string(), name: z.string(), enteredAt: isoDate })),
  deviceTokens: z.array(
    z.object({ token: z.string().describe("shortened"), platform: z.string(), lastSeenAt: isoDate, retiredAt: nullableDate, retiredReason: z.string().nullable() }),
  ),
});

export const userResponseSchema = z.object({ user: userProfileSchema });

export const eraseResponseSchema = z.object({
  erased: z.literal(true),
  deleted: z.record(z.number().int()).describe("rows deleted per table"),
});

export const userMessageSchema = z.object({
  id: z.string(),
  channel: z.string(),
  category: z.string(),
  state: z.string().describe("queued, sent, delivered, opened, clicked or failed"),
  provider: z.string().nullable(),
  address: z.string().nullable(),
  title: z.string().nullable(),
  body: z.string().nullable(),
  failureReason: z.string().nullable(),
  failureDetail: z.string().nullable(),
  journeyId: z.string().nullable(),
  journeyName: z.string().nullable(),
  nodeId: z.string().nullable(),
  createdAt: isoDate,
  sentAt: nullableDate,
  deliveredAt: nullableDate,
  openedAt: nullableDate,
  clickedAt: nullableDate,
  failedAt: nullableDate,
});
export const userMessagesResponseSchema = z.object({ messages: z.array(userMessageSchema) });

export const userJourneySchema = z.object({
  instanceId: z.string(),
  journeyId: z.string(),
  journeyName: z.string().nullable(),
  version: z.number().int().nullable(),
  status: z.string().describe("active or completed"),
  reason: z.string().nullable(),
  nodeId: z.string().nullable(),
  holdout: z.boolean(),
  enteredAt: isoDate,
  completedAt: nullableDate,
});
export const userJourneysResponseSchema = z.object({ journeys: z.array(userJourneySchema) });

export const segmentSchema = z.object({
  id: z.string().uuid(),
  key: z.string().describe("stable handle journeys use in segment triggers"),
  name: z.string(),
  description: z.string(),
  rules: z.string().describe("the rules in words"),
  definition: z.record(z.unknown()).describe("the rule tree (see docs/api.md)"),
  preset: z.object({ family: z.string(), stage: z.string(), params: z.record(z.union([z.number(), z.string()])) }).nullable(),
  timeDependent: z.boolean(),
  memberCount: z.number().int(),
  computedAt: nullableDate,
  updatedAt: isoDate,
});
export const segmentsResponseSchema = z.object({ segments: z.array(segmentSchema) });
export const segmentResponseSchema = z.object({ segment: segmentSchema });
export const segmentCountResponseSchema = z.object({
  id: z.string().uuid(),
  key: z.string(),
  count: z.number().int().describe("members right now"),
  computedAt: nullableDate,
});

export const journeySummarySchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  status: z.enum(["draft", "live", "paused", "archived"]),
  liveVersion: z.number().int().nullable(),
  hasDraft: z.boolean(),
  updatedAt: isoDate,
});
export const journeysResponseSchema = z.object({ journeys: z.array(journeySummarySchema) });
export const journeyResponseSchema = z.object({ journey: journeySummarySchema });
export const journeyImportResponseSchema = z.object({ id: z.string().uuid() });
export const journeyPublishResponseSchema = z.object({
  id: z.string().uuid(),
  version: z.number().int(),
  versionId: z.string().uuid(),
  /** What the operator should know but that did not stop the publish (copy that will be cut, no provider, unknown names). */
  warnings: z.array(z.object({ path: z.string(), message: z.string() })),
});
export const journeyStatusResponseSchema = z.object({
  id: z.string().uuid(),
  status: z.enum(["live", "paused"]),
  held: z.boolean().describe("paused with `inside: hold`: users inside wait where they are until resume"),
});
/** Body of `POST …/pause` (optional): what happens to users already inside (docs/decisions/0515). */
export const journeyPauseBodySchema = z
  .object({ inside: z.enum(pauseChoices).default("keep_running").describe("`keep_running` (default): users inside continue; `hold`: they stop where they are until resume") })
  .strict();
const statsCounts = z.record(z.number().int());
export const journeyStatsResponseSchema = z.object({
  id: z.string().uuid(),
  version: z.number().int().nullable().describe("the version asked for with ?version=N, else null (all versions)"),
  period: z
    .object({ from: z.string().nullable(), to: z.string().nullable() })
    .describe("the entry period counted, in whole hours (from rounded down, to up); null when open"),
  entries: statsCounts.describe("entries and refused entries by outcome (by the day they happened)"),
  instances: z.object({ active: z.number().int(), completed: z.number().int() }).describe("of the period's entries: inside now, and finished"),
  completions: statsCounts.describe("finished instances by reason: exit_node, goal, exit_criteria, cancelled, failed, holdout"),
  nodes: z.array(
    z.object({
      nodeId: z.string(),
      entered: z.number().int(),
      waiting: z.number().int().describe("at this node now (on an Exit: watching for the goal until its window ends)"),
      outputs: statsCounts.describe("left by each output"),
      exits: statsCounts.describe("journeys that ended at this node, by reason; entered = Σ outputs + waiting + Σ exits"),
      messages: z.object({
        sent: z.number().int(),
        delivered: z.number().int(),
        opened: z.number().int(),
        clicked: z.number().int(),
        failed: z.number().int(),
        deferred: z.number().int(),
      }),
      failureReasons: statsCounts.describe("why messages or actions failed here, by reason (late delivery failures included)"),
      conversions: z.number().int().describe("conversions attributed to this node (the last message sent before the goal)"),
      branchConversions: statsCounts.describe("split / condition nodes: conversions of the users who took each output"),
    }),
  ),
  messages: z
    .object({ sent: z.number().int(), delivered: z.number().int(), opened: z.number().int(), clicked: z.number().int(), failed: z.number().int(), deferred: z.number().int() })
    .describe("message states summed over the message nodes"),
  conversions: z.number().int().describe("converted users outside the holdout"),
  holdout: z.object({ entered: z.number().int(), converted: z.number().int(), conversionRate: z.number() }),
});
