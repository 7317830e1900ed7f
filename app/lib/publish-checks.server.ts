import { and, eq, inArray, sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { channelSettings } from "../../db/schema";
import type { Localized } from "../../nodes/define";
import { getNodeDefinition } from "../../nodes/registry";
import type { JourneyDocument } from "../../workflows/document";
import type { CompileError } from "../../workflows/program";

/**
 * Publish checks that need the workspace, on top of the compiler's own (workflows/program.ts and
 * message-checks.ts): a message channel with no provider set up, and event or trait names no
 * data has ever carried (a typo in a condition quietly sends everybody down "no"). All are
 * warnings: the operator may be publishing ahead of the first event or the provider.
 */

/** Profiles looked at for a trait: enough to find any trait in use, bounded on big workspaces. */
const TRAIT_SAMPLE = 50_000;
/** Profile fields that exist whether or not any trait carries them. */
const PROFILE_FIELDS = new Set(["id", "email", "phone", "timezone", "tags"]);

const channelWords: Record<string, Localized> = { push: { en: "push", zh: "推送" }, sms: { en: "SMS", zh: "短信" }, email: { en: "email", zh: "邮件" } };

interface NameUse {
  nodeId?: string;
  path: string;
  name: string;
}

/** Every event and trait name the journey reads, with where it reads it. */
function namesUsed(doc: JourneyDocument): { events: NameUse[]; traits: NameUse[] } {
  const events: NameUse[] = [];
  const traits: NameUse[] = [];
  if (doc.settings.goal?.event) events.push({ path: "settings.goal.event", name: doc.settings.goal.event });
  doc.settings.exitEvents.forEach((e, i) => events.push({ path: `settings.exitEvents.${i}.event`, name: e.event }));
  for (const node of doc.nodes) {
    const config = (node.config ?? {}) as Record<string, unknown>;
    if ((node.type === "core.trigger" && config.source === "event") || node.type === "core.wait-for-event") {
      if (typeof config.event === "string" && config.event) events.push({ nodeId: node.id, path: "event", name: config.event });
    }
    if (node.type === "core.condition") {
      const groups = Array.isArray(config.rules)
        ? [{ prefix: "rules", rules: config.rules as unknown[] }]
        : Array.isArray(config.branches)
          ? (config.branches as { rules?: unknown[] }[]).map((b, bi) => ({ prefix: `branches.${bi}.rules`, rules: b.rules ?? [] }))
          : [];
      for (const { prefix, rules } of groups) {
        rules.forEach((raw, i) => {
          const rule = raw as { kind?: string; event?: unknown; trait?: unknown };
          if (typeof rule.event === "string" && rule.event) events.push({ nodeId: node.id, path: `${prefix}.${i}.event`, name: rule.event });
          if (rule.kind === "trait" && typeof rule.trait === "string" && rule.trait) traits.push({ nodeId: node.id, path: `${prefix}.${i}.trait`, name: rule.trait });
        });
      }
    }
  }
  // Internal events ($segment.entered, $message.delivered...) are the product's own.
  return { events: events.filter((e) => !e.name.startsWith("$")), traits: traits.filter((t) => !PROFILE_FIELDS.has(t.name.split(".")[0]!)) };
}

export async function workspacePublishChecks(db: Db, workspaceId: string, doc: JourneyDocument): Promise<CompileError[]> {
  const problems: CompileError[] = [];

  const messageNodes = doc.nodes.flatMap((n) => {
    const channel = getNodeDefinition(n.type)?.channel;
    return channel ? [{ id: n.id, channel }] : [];
  });
  if (messageNodes.length > 0) {
    const channels = [...new Set(messageNodes.map((n) => n.channel))];
    const rows = await db
      .select({ kind: channelSettings.kind, provider: channelSettings.provider })
      .from(channelSettings)
      .where(and(eq(channelSettings.workspaceId, workspaceId), inArray(channelSettings.kind, channels)));
    const chosen = new Set(rows.filter((r) => r.provider).map((r) => r.kind));
    for (const node of messageNodes) {
      if (chosen.has(node.channel)) continue;
      const word = channelWords[node.channel]!;
      problems.push({
        code: "no_provider",
        severity: "warning",
        nodeId: node.id,
        message: {
          en: `No ${word.en} provider is set up, so these messages go to the sandbox and nobody receives them. Set one up in Settings → Channels.`,
          zh: `尚未配置${word.zh}服务商，消息只会进入沙箱，没有人会收到。请在 设置 → 渠道 中配置。`,
        },
      });
    }
  }

  const { events, traits } = namesUsed(doc);
  const warn = (use: NameUse, message: Localized) =>
    problems.push({ code: "unknown_name", severity: "warning", ...(use.nodeId ? { nodeId: use.nodeId } : {}), path: use.path, message });

  const seenEvents = new Set<string>();
  for (const name of new Set(events.map((e) => e.name))) {
    const [row] = await query<{ seen: boolean }>(db, sql`select exists(select 1 from events where workspace_id = ${workspaceId}::uuid and name = ${name}) as seen`);
    if (row?.seen) seenEvents.add(name);
  }
  for (const use of events.filter((e) => !seenEvents.has(e.name))) {
    warn(use, {
      en: `No event named "${use.name}" has been received in this workspace yet. Check the spelling, or ignore this if the app will start sending it.`,
      zh: `本工作区尚未收到名为 "${use.name}" 的事件。请检查拼写；如果应用之后才会发送该事件，可忽略此提示。`,
    });
  }

  const traitKey = (name: string) => name.split(".")[0]!;
  const seenTraits = new Set<string>();
  for (const key of new Set(traits.map((t) => traitKey(t.name)))) {
    const [row] = await query<{ seen: boolean }>(
      db,
      sql`select exists(select 1 from (select traits from users where workspace_id = ${workspaceId}::uuid limit ${TRAIT_SAMPLE}) u where u.traits ? ${key}) as seen`,
    );
    if (row?.seen) seenTraits.add(key);
  }
  for (const use of traits.filter((t) => !seenTraits.has(traitKey(t.name)))) {
    warn(use, {
      en: `No user profile has a trait "${use.name}". Check the spelling, or ignore this if the app will start sending it.`,
      zh: `没有任何用户资料包含属性 "${use.name}"。请检查拼写；如果应用之后才会发送该属性，可忽略此提示。`,
    });
  }
  return problems;
}

/** "“Win-back SMS” (sms_1)": how an API answer or a log names a node for a person. */
export function nodeTitle(doc: Pick<JourneyDocument, "nodes">, nodeId: string, locale: "en" | "zh" = "en"): string {
  const node = doc.nodes.find((n) => n.id === nodeId);
  if (!node) return nodeId;
  const label = node.label || getNodeDefinition(node.type)?.label[locale] || node.type;
  return `“${label}” (${nodeId})`;
}
