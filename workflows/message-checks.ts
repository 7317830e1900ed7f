import type { AnyNodeDefinition, Localized } from "../nodes/define";
import { applyLengthRules, SMS_MULTI_PART_CHARS, type LengthIssue } from "../nodes/channels/limits";
import type { RenderedContent } from "../nodes/channels/provider";

/**
 * What the inspector shows about a message node's copy, as compile problems, so the header count,
 * the problems panel and publish agree with it: a template that cannot render and copy over the
 * channel's limit. The copy is rendered for a user with no traits, so what is counted is the part
 * every user gets; longer traits only add to it.
 *
 * - SMS over the limit is refused at send time (`too_long`, decision 0202): an error.
 * - Push and email over the limit are cut at send time: a warning, publish goes ahead.
 */

export interface MessageProblem {
  code: "template_error" | "too_long";
  severity?: "warning";
  path: string;
  message: Localized;
}

const fieldNames: Record<string, Localized> = {
  title: { en: "title", zh: "标题" },
  body: { en: "body", zh: "正文" },
  subject: { en: "subject", zh: "主题" },
  html: { en: "HTML", zh: "HTML" },
  text: { en: "plain text", zh: "纯文本" },
  deepLink: { en: "deep link", zh: "深度链接" },
  templateParams: { en: "template variable", zh: "模板变量" },
  data: { en: "data payload", zh: "数据负载" },
};

const channelNames: Record<string, Localized> = {
  push: { en: "a push notification", zh: "推送" },
  sms: { en: "an SMS", zh: "短信" },
  email: { en: "an email", zh: "邮件" },
};

const n = (value: number) => value.toLocaleString("en-US");

function fieldName(field: string): Localized {
  if (field.startsWith("param.")) return { en: `template variable "${field.slice(6)}"`, zh: `模板变量 "${field.slice(6)}"` };
  return fieldNames[field] ?? { en: field, zh: field };
}

function lengthMessage(channel: string, issue: LengthIssue, cut: boolean): Localized {
  const field = fieldName(issue.field);
  const who = channelNames[channel] ?? { en: "this message's", zh: "此消息" };
  const unit = issue.field === "data" ? { en: "bytes", zh: "字节" } : { en: "characters", zh: "个字符" };
  const parts = channel === "sms" && issue.field === "body" ? { en: ` (${Math.ceil(issue.limit / SMS_MULTI_PART_CHARS)} parts)`, zh: `（${Math.ceil(issue.limit / SMS_MULTI_PART_CHARS)} 条）` } : { en: "", zh: "" };
  const lead = {
    en: `The ${field.en} is ${n(issue.length)} ${unit.en} before any trait is filled in; ${who.en} ${field.en} can have at most ${n(issue.limit)} ${unit.en}${parts.en}.`,
    zh: `${field.zh}在填入用户属性前已有 ${n(issue.length)} ${unit.zh}；${who.zh}${field.zh}最多 ${n(issue.limit)} ${unit.zh}${parts.zh}。`,
  };
  return cut
    ? { en: `${lead.en} It will be cut to fit when sent.`, zh: `${lead.zh}发送时将被截断。` }
    : { en: `${lead.en} Every send would fail as too long: shorten it.`, zh: `${lead.zh}每次发送都会因超长而失败，请缩短。` };
}

export function messageProblems(def: AnyNodeDefinition, config: unknown): MessageProblem[] {
  if (!def.channel || !def.preview) return [];
  const preview = def.preview(config, { user: { id: "", traits: {} } });
  const problems: MessageProblem[] = [];
  for (const [field, error] of Object.entries(preview.errors)) {
    const name = fieldName(field);
    problems.push({
      code: "template_error",
      path: field.startsWith("param.") ? `templateParams.${field.slice(6)}` : field,
      message: { en: `The ${name.en} template cannot be rendered: ${error}`, zh: `${name.zh}模板无法渲染：${error}` },
    });
  }
  if (problems.length > 0) return problems;

  const fields = preview.fields;
  const params = Object.fromEntries(Object.entries(fields).filter(([k]) => k.startsWith("param.")).map(([k, v]) => [k.slice(6), v]));
  const content: RenderedContent = {
    ...(fields.title !== undefined ? { title: fields.title } : {}),
    ...(fields.body !== undefined ? { body: fields.body } : {}),
    ...(fields.subject !== undefined ? { subject: fields.subject } : {}),
    ...(fields.templateCode ? { templateCode: fields.templateCode, templateParams: params } : {}),
    ...(fields.signName ? { signName: fields.signName } : {}),
  };
  // What the send does by default (decision 0202): push and email are cut, SMS is refused.
  const cut = def.channel !== "sms";
  const strict = applyLengthRules(def.channel, content, { truncate: false });
  if (!strict.ok) {
    const refusedEvenIfCut = cut ? !applyLengthRules(def.channel, content, { truncate: true }).ok : true;
    problems.push({
      code: "too_long",
      ...(refusedEvenIfCut ? {} : { severity: "warning" as const }),
      path: strict.issue.field,
      message: lengthMessage(def.channel, strict.issue, !refusedEvenIfCut),
    });
  }
  return problems;
}
