import { renderToStaticMarkup } from "react-dom/server";
import { I18nextProvider } from "react-i18next";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineNode } from "../../../nodes/define";
import { durationSchema } from "../../../nodes/duration";
import { registerNode } from "../../../nodes/registry";
import { getI18n } from "../../i18n";
import { CanvasStoreProvider } from "../context";
import { createCanvasStore } from "../store";
import { NodeInspector } from "./Inspector";
import { describeSchema, getIn, initialValue, isRequired, setIn, switchVariant, type Field, type FieldNode } from "./introspect";
import { registerFieldEditor, registerInspector, type FieldEditorProps, type InspectorProps } from "./registry";

/** A third-party node type, registered as its author would: nothing in the canvas knows it. */
const priorityLevel = z.enum(["low", "normal", "high"]);
const slackConfig = z.object({
  channel: z.string().min(1).describe("Where the message is posted"),
  message: z.string().min(1),
  mentions: z.array(z.string().min(1)).default([]),
  urgent: z.boolean().default(false),
  retries: z.number().int().min(0).max(5).optional(),
  priority: priorityLevel.default("normal"),
  target: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("user"), userId: z.string().min(1), note: z.string().optional() }),
    z.object({ kind: z.literal("channel"), name: z.string().min(1), note: z.string().optional(), thread: z.string().optional() }),
  ]),
  delay: durationSchema.optional(),
  fields: z.record(z.string(), z.string()).default({}),
  meta: z.object({ source: z.string().default("waypost"), score: z.number().min(0).max(1).optional() }).default({}),
});

const slackNode = defineNode({
  type: "acme.slack",
  version: 1,
  kind: "action",
  category: "custom",
  label: { en: "Slack", zh: "Slack 消息" },
  description: { en: "Post to Slack.", zh: "发到 Slack。" },
  icon: "#",
  config: slackConfig,
  defaults: { channel: "", message: "", target: { kind: "user", userId: "" } },
  outputs: () => [{ id: "posted", label: { en: "Posted", zh: "已发送" } }],
  summary: (config) => `#${config.channel}`,
});
registerNode(slackNode);

const fieldOf = (node: FieldNode, key: string) => {
  if (node.field.kind !== "object") throw new Error("not an object");
  return node.field.fields.find((f) => f.key === key)!.node;
};

function renderInspector(config: unknown, locale: "en" | "zh" = "en"): string {
  const store = createCanvasStore({
    document: {
      schemaVersion: 1,
      name: "test",
      settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [{ id: "slack_1", type: "acme.slack", typeVersion: 1, config, position: { x: 0, y: 0 } }],
      edges: [],
    },
  });
  return renderToStaticMarkup(
    <I18nextProvider i18n={getI18n(locale)}>
      <CanvasStoreProvider store={store}>
        <NodeInspector nodeId="slack_1" workspaceTimezone="Asia/Shanghai" openSettings={() => {}} />
      </CanvasStoreProvider>
    </I18nextProvider>,
  );
}

describe("zod introspection", () => {
  const root = describeSchema(slackConfig);

  it("describes every kind of field the schema uses", () => {
    expect(fieldOf(root, "channel")).toMatchObject({ field: { kind: "string", minLength: 1 }, optional: false, description: "Where the message is posted" });
    expect(fieldOf(root, "mentions").field).toMatchObject({ kind: "array", item: { field: { kind: "string" } } });
    expect(fieldOf(root, "urgent").field.kind).toBe("boolean");
    expect(fieldOf(root, "retries")).toMatchObject({ field: { kind: "number", int: true, min: 0, max: 5 }, optional: true });
    expect(fieldOf(root, "priority").field).toEqual({ kind: "enum", options: ["low", "normal", "high"] });
    const target = fieldOf(root, "target").field as Extract<Field, { kind: "variant" }>;
    expect(target.discriminator).toBe("kind");
    expect(target.options.map((o) => o.value)).toEqual(["user", "channel"]);
    expect(fieldOf(root, "fields").field).toMatchObject({ kind: "record", value: { field: { kind: "string" } } });
    expect(fieldOf(fieldOf(root, "meta"), "score")).toMatchObject({ field: { kind: "number", min: 0, max: 1 }, optional: true });
    // The wrapper chain is kept, so an editor registered for durationSchema finds this field.
    expect(fieldOf(root, "delay").schemas).toContain(durationSchema);
  });

  it("knows what is required and what a new value starts as", () => {
    expect(isRequired(fieldOf(root, "channel"))).toBe(true);
    expect(isRequired(fieldOf(root, "priority"))).toBe(false); // has a default
    expect(isRequired(fieldOf(root, "retries"))).toBe(false);
    expect(initialValue(root)).toEqual({
      channel: "",
      message: "",
      mentions: [],
      urgent: false,
      priority: "normal",
      target: { kind: "user", userId: "" },
      fields: {},
      meta: {},
    });
    expect(initialValue(describeSchema(z.number().int().positive()))).toBe(1);
  });

  it("switches a variant keeping the fields both variants share", () => {
    const target = fieldOf(root, "target").field as Extract<Field, { kind: "variant" }>;
    expect(switchVariant(target, { kind: "user", userId: "u1", note: "vip" }, "channel")).toEqual({ kind: "channel", name: "", note: "vip" });
  });

  it("edits nested values immutably; undefined removes an optional key", () => {
    const config = { target: { kind: "channel", name: "ops", thread: "t" }, mentions: ["a"] };
    const next = setIn(config, ["target", "thread"], undefined) as typeof config;
    expect(next.target).toEqual({ kind: "channel", name: "ops" });
    expect(config.target.thread).toBe("t");
    expect(getIn(setIn(config, ["mentions", 1], "b"), ["mentions"])).toEqual(["a", "b"]);
  });
});

describe("schema-generated inspector for a custom node type", () => {
  const config = { channel: "ops", message: "", mentions: ["alice"], urgent: true, priority: "high", target: { kind: "channel", name: "" }, fields: { env: "prod" } };

  it("renders an editor for every field, with labels, help, bounds and inline problems", () => {
    const html = renderInspector(config);
    expect(html).toContain("Slack");
    expect(html).toMatch(/<label for="slack_1-channel"[^>]*>Channel<\/label>/);
    expect(html).toContain("Where the message is posted");
    expect(html).toMatch(/<input id="slack_1-retries"[^>]*type="number"[^>]*min="0"[^>]*max="5"[^>]*step="1"/);
    expect(html).toMatch(/<input id="slack_1-urgent"[^>]*type="checkbox"[^>]*checked=""/);
    expect(html).toMatch(/<select id="slack_1-priority"[^>]*>.*<option value="high" selected="">high<\/option>/s);
    // The variant picker, then the chosen variant's own fields.
    expect(html).toMatch(/<select id="slack_1-target-kind"[^>]*>.*<option value="channel" selected="">channel<\/option>/s);
    expect(html).toContain('id="slack_1-target-name"');
    expect(html).not.toContain('id="slack_1-target-userId"');
    // Lists and records are editable rows.
    expect(html).toContain('value="alice"');
    expect(html).toContain('value="env"');
    expect(html).toContain('value="prod"');
    // durationSchema is edited by the shared duration editor (amount + unit).
    expect(html).toContain('aria-label="Amount"');
    // Missing required values are flagged next to their fields.
    expect(html).toMatch(/data-path="message".*Required/s);
    expect(html).toMatch(/data-path="target\.name".*Required/s);
  });

  it("speaks Chinese when the operator does", () => {
    const html = renderInspector(config, "zh");
    expect(html).toContain("Slack 消息");
    expect(html).toContain("必填");
    expect(html).toContain("节点 ID");
  });

  it("applies field hints: custom labels, multi-line text, hidden fields", () => {
    registerInspector("acme.slack", {
      fields: {
        message: { widget: "textarea", label: { en: "Message text", zh: "消息正文" } },
        "meta.score": { hidden: true },
        "target.thread": { when: (target) => target.kind === "channel" && target.name !== "" },
      },
    });
    const html = renderInspector({ ...config, meta: { source: "x", score: 0.5 } });
    expect(html).toMatch(/<label for="slack_1-message"[^>]*>Message text<\/label><textarea/);
    expect(html).toContain('id="slack_1-meta-source"');
    expect(html).not.toContain("slack_1-meta-score");
    expect(html).not.toContain("slack_1-target-thread");
    expect(renderInspector({ ...config, target: { kind: "channel", name: "ops" } })).toContain("slack_1-target-thread");
  });

  it("uses an editor registered for a schema wherever that schema appears", () => {
    function PriorityPicker({ id, value }: FieldEditorProps) {
      return <output id={id} data-picker="priority">{String(value)}!</output>;
    }
    registerFieldEditor(priorityLevel, PriorityPicker);
    expect(renderInspector(config)).toContain('data-picker="priority">high!</output>');
  });

  it("lets the node's author replace the whole panel", () => {
    function SlackInspector({ config, nodeId }: InspectorProps) {
      return <p data-custom={nodeId}>custom for #{(config as { channel: string }).channel}</p>;
    }
    registerInspector("acme.slack", { component: SlackInspector });
    const html = renderInspector(config);
    expect(html).toContain('<p data-custom="slack_1">custom for #ops</p>');
    // The shell (header, canvas name) stays the inspector's.
    expect(html).toContain("Name on the canvas");
  });
});
