import { conditionRuleSchema } from "../../../nodes/condition/definition";
import { durationSchema } from "../../../nodes/duration";
import { hhmmSchema, isoWeekdaySchema } from "../../../nodes/fields";
import { propertyFilterSchema } from "../../../nodes/filters";
import { ConditionInspector, RuleEditor } from "./editors/ConditionInspector";
import { MessageInspector } from "./editors/MessageInspector";
import { SplitInspector } from "./editors/SplitInspector";
import { TriggerInspector } from "./editors/TriggerInspector";
import { WaitInspector } from "./editors/WaitInspector";
import { registerFieldEditor, registerInspector, type FieldHint } from "./registry";
import { DurationField, FiltersField, TimeField, TimesField, WeekdaysField } from "./widgets";

/**
 * Inspector registrations for the core node types and the shared schema building blocks.
 * A custom node's author adds theirs the same way (see docs/canvas.md).
 */

registerFieldEditor(durationSchema, DurationField);
registerFieldEditor(hhmmSchema, TimeField);
registerFieldEditor(hhmmSchema, TimesField, { list: true });
registerFieldEditor(isoWeekdaySchema, WeekdaysField, { list: true });
registerFieldEditor(propertyFilterSchema, FiltersField, { list: true });
registerFieldEditor(conditionRuleSchema, RuleEditor);

const messageHints: Record<string, FieldHint> = {
  body: { widget: "textarea" },
  html: { widget: "textarea" },
  text: { widget: "textarea" },
  deliveryTimeoutMs: { widget: "durationMs" },
};

registerInspector("core.trigger", { component: TriggerInspector, fields: { event: { widget: "event" }, segment: { widget: "segment" } } });
registerInspector("core.wait", { component: WaitInspector, fields: { trait: { widget: "trait" }, date: { widget: "date" } } });
registerInspector("core.wait-for-event", { fields: { event: { widget: "event" } } });
registerInspector("core.condition", { component: ConditionInspector });
registerInspector("core.split", { component: SplitInspector });
registerInspector("core.push", { component: MessageInspector, fields: messageHints });
registerInspector("core.sms", { component: MessageInspector, fields: messageHints });
registerInspector("core.email", { component: MessageInspector, fields: messageHints });
registerInspector("core.update-user", { fields: { "operations.*.op": { labelKey: "fields.operation" }, "operations.*.trait": { widget: "trait" } } });
registerInspector("example.webhook", { fields: { body: { widget: "textarea", labelKey: "fields.requestBody" } } });

/** The journey settings form is generated from its schema too. */
export const settingsHints: Record<string, FieldHint> = {
  "entry.cooldownMs": { widget: "durationMs", when: (entry) => entry.rule === "cooldown" },
  "goal.event": { widget: "event" },
  "goal.windowMs": { widget: "durationMs" },
  "exitEvents.*.event": { widget: "event" },
  timezone: { widget: "timezone" },
};
