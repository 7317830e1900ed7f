import { useTranslation } from "react-i18next";
import { useShallow } from "zustand/react/shallow";
import {
  EMAIL_SUBJECT_MAX_CHARS,
  PUSH_BODY_MAX_CHARS,
  PUSH_TITLE_MAX_CHARS,
  SMS_MAX_CHARS,
  SMS_SINGLE_PART_CHARS,
  charCount,
  countSms,
} from "../../../../nodes/channels/limits";
import type { AnyNodeDefinition, PreviewResult } from "../../../../nodes/define";
import { getNodeDefinition } from "../../../../nodes/registry";
import { useCanvas } from "../../context";
import { useSampleUsers, userLabel } from "../../sampleUsers";
import { issuesByPath } from "../introspect";
import type { InspectorProps } from "../registry";
import { SchemaForm } from "../SchemaForm";

/**
 * Push, SMS and email: the copy, a live preview rendered for a sample user with the same Liquid
 * context the runtime uses, and a character counter against the channel's limits (the limits
 * module the send path enforces, so the count shown is the count applied).
 */

function renderPreview(def: AnyNodeDefinition, config: unknown, ctx: Parameters<NonNullable<AnyNodeDefinition["preview"]>>[1]): PreviewResult | null {
  if (!def.preview) return null;
  const parsed = def.config.safeParse(config);
  // A half-written message still previews: fill what is missing from the defaults.
  const input = parsed.success ? parsed.data : { ...(def.defaults as object), ...(config as object) };
  try {
    return def.preview(input, ctx);
  } catch {
    return null;
  }
}

/** Passed as values: Liquid's braces would otherwise be read as i18next placeholders. */
const liquidExamples = { userName: '{{ user.name | default: "朋友" }}', city: "{{ user.city }}", amount: "{{ event.properties.amount }}" };

/** What the user reads, edited above the preview; the rest (policy, provider details) folds away. */
const copyFields: Record<string, string[]> = {
  push: ["title", "body", "deepLink", "imageUrl"],
  sms: ["body", "signName"],
  email: ["subject", "html", "text", "fromName"],
};

interface Count {
  field: string;
  length: number;
  limit: number;
  /** SMS: how many billed parts. */
  parts?: number;
}

function countsFor(channel: string | undefined, fields: Record<string, string>, config: { signName?: string }): Count[] {
  if (channel === "push") {
    return [
      { field: "title", length: charCount(fields.title ?? ""), limit: PUSH_TITLE_MAX_CHARS },
      { field: "body", length: charCount(fields.body ?? ""), limit: PUSH_BODY_MAX_CHARS },
    ];
  }
  if (channel === "sms") {
    const sms = countSms(fields.body ?? "", config.signName);
    return [{ field: "body", length: sms.chars, limit: SMS_MAX_CHARS, parts: sms.parts }];
  }
  if (channel === "email") return [{ field: "subject", length: charCount(fields.subject ?? ""), limit: EMAIL_SUBJECT_MAX_CHARS }];
  return [];
}

export function MessageInspector({ nodeId, definition, config, onChange, readOnly, hints }: InspectorProps) {
  const { t } = useTranslation("canvas");
  const samples = useSampleUsers();
  const [journeyName, entryEvent] = useCanvas(
    useShallow((s) => {
      const trigger = s.nodes.find((n) => getNodeDefinition(n.data.nodeType)?.kind === "trigger");
      const event = (trigger?.data.config as { event?: unknown } | undefined)?.event;
      return [s.name, typeof event === "string" ? event : ""] as const;
    }),
  );
  const preview = renderPreview(definition, config, {
    user: samples.current,
    ...(entryEvent ? { event: { name: entryEvent, properties: {} } } : {}),
    journey: { id: "preview", name: journeyName },
  });
  const counts = preview ? countsFor(definition.channel, preview.fields, (config ?? {}) as { signName?: string }) : [];
  const shown = preview ? Object.entries(preview.fields).filter(([name]) => name !== "html") : [];

  const copy = copyFields[definition.channel ?? ""] ?? [];
  // Sending options stay folded unless one of them needs attention.
  const optionIssues = [...issuesByPath(definition.config, config).keys()].some((path) => !copy.includes(path.split(".")[0]));

  return (
    <>
      <SchemaForm schema={definition.config} value={config} onChange={onChange} disabled={readOnly} hints={hints} idPrefix={nodeId} only={copy} />
      <p className="ins-help">{t("message.variablesHelp", liquidExamples)}</p>
      <section className="ins-preview" aria-label={t("message.preview")} data-testid="message-preview">
        <header>
          <h4>{t("message.preview")}</h4>
          <select aria-label={t("message.sampleUser")} value={samples.current.id} onChange={(e) => samples.select(e.target.value)}>
            {samples.users.map((u) => (
              <option key={u.id} value={u.id}>
                {userLabel(u)}
              </option>
            ))}
          </select>
        </header>
        {shown.length === 0 && !preview?.fields.html ? <p className="muted">{t("message.nothingYet")}</p> : null}
        {shown.map(([name, text]) => (
          <div key={name} className="ins-preview-field">
            <span className="muted">{t(`fields.${name}`, { defaultValue: name })}</span>
            <p>{text}</p>
          </div>
        ))}
        {preview?.fields.html ? (
          // Sandboxed without scripts: operator HTML renders, but cannot run in our page.
          <iframe title={t("message.emailBody")} sandbox="" srcDoc={preview.fields.html} className="ins-email-frame" />
        ) : null}
        {preview
          ? Object.entries(preview.errors).map(([name, error]) => (
              <p key={name} className="ins-issues" role="alert">
                {t("message.renderError", { field: t(`fields.${name}`, { defaultValue: name }), error })}
              </p>
            ))
          : null}
        {counts.map((c) => {
          const over = c.length > c.limit;
          return (
            <p key={c.field} className={`ins-counter${over ? " over" : ""}`} data-testid={`counter-${c.field}`}>
              {t("message.count", { field: t(`fields.${c.field}`), length: c.length, limit: c.limit })}
              {c.parts !== undefined ? ` · ${t("message.smsParts", { count: c.parts, single: SMS_SINGLE_PART_CHARS })}` : null}
              {over ? ` · ${t("message.overLimit")}` : null}
            </p>
          );
        })}
      </section>
      <details className="ins-more" open={optionIssues}>
        <summary>{t("message.options")}</summary>
        <SchemaForm schema={definition.config} value={config} onChange={onChange} disabled={readOnly} hints={hints} idPrefix={nodeId} omit={copy} />
      </details>
    </>
  );
}
