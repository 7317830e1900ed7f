import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../../nodes/registry";
import { journeySettingsSchema, type JourneySettings } from "../../../workflows/document";
import { useCanvas } from "../context";
import { useLocale } from "../locale";
import { DraftInput } from "./inputs";
import { settingsHints } from "./extensions";
import { describeSchema } from "./introspect";
import { inspectorFor } from "./registry";
import { SchemaForm } from "./SchemaForm";

/** The inspector for one node: its problems, its canvas name, and its config form. */
export function NodeInspector({ nodeId, workspaceTimezone, openSettings }: { nodeId: string; workspaceTimezone: string; openSettings(): void }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const node = useCanvas((s) => s.nodes.find((n) => n.id === nodeId));
  const problems = useCanvas((s) => s.problems[nodeId]);
  const readOnly = useCanvas((s) => s.readOnly);
  const settings = useCanvas((s) => s.settings);
  const updateNode = useCanvas((s) => s.updateNode);
  const updateSettings = useCanvas((s) => s.updateSettings);
  if (!node) return null;
  const def = getNodeDefinition(node.data.nodeType);
  if (!def) {
    return (
      <div className="ins-panel">
        <p className="form-error">{t("node.unknownType", { type: node.data.nodeType })}</p>
      </div>
    );
  }
  const extension = inspectorFor(def.type);
  const Custom = extension?.component;
  const hints = extension?.fields ?? {};
  const onChange = (config: unknown, field?: string) => updateNode(nodeId, { config }, `node:${nodeId}:${field ?? ""}`);
  const shape = describeSchema(def.config).field;
  const nothingToConfigure = shape.kind === "object" && shape.fields.length === 0;

  return (
    <div className="ins-panel" data-testid="inspector" data-node-id={nodeId}>
      <header className="ins-header">
        <span className="wp-node-icon" aria-hidden>
          {def.icon}
        </span>
        <div>
          <h2>{def.label[locale]}</h2>
          <p className="muted">{def.description[locale]}</p>
        </div>
      </header>
      {problems?.length ? (
        <ul className="ins-problems" aria-label={t("problems.title")}>
          {problems.map((p, i) => (
            <li key={i}>{p.message[locale]}</li>
          ))}
        </ul>
      ) : null}
      <fieldset disabled={readOnly} className="ins-fieldset">
        <div className="ins-field">
          <label htmlFor={`${nodeId}-label`}>{t("inspector.nodeName")}</label>
          <DraftInput
            id={`${nodeId}-label`}
            placeholder={def.label[locale]}
            value={node.data.label ?? ""}
            onValue={(label) => updateNode(nodeId, { label: label as string }, `node:${nodeId}:label`)}
          />
          <p className="ins-help">
            {t("inspector.nodeId")} <code>{nodeId}</code>
          </p>
        </div>
        {nothingToConfigure ? (
          <p className="muted">{t("inspector.nothingToConfigure")}</p>
        ) : Custom ? (
          <Custom
            nodeId={nodeId}
            definition={def}
            config={node.data.config}
            onChange={onChange}
            readOnly={readOnly}
            settings={settings}
            onSettingsChange={(next) => updateSettings(next)}
            openSettings={openSettings}
            workspaceTimezone={workspaceTimezone}
            hints={hints}
          />
        ) : (
          <SchemaForm schema={def.config} value={node.data.config} onChange={onChange} disabled={readOnly} hints={hints} idPrefix={nodeId} />
        )}
      </fieldset>
    </div>
  );
}

/** Journey-wide settings: name, entry rules, caps, holdout, goal, exit criteria, time zone. */
export function JourneySettingsPanel({ workspaceTimezone }: { workspaceTimezone: string }) {
  const { t } = useTranslation("canvas");
  const name = useCanvas((s) => s.name);
  const settings = useCanvas((s) => s.settings);
  const readOnly = useCanvas((s) => s.readOnly);
  const problems = useCanvas((s) => s.problems[""]);
  const locale = useLocale();
  const rename = useCanvas((s) => s.rename);
  const updateSettings = useCanvas((s) => s.updateSettings);
  return (
    <div className="ins-panel" data-testid="journey-settings">
      <header className="ins-header">
        <div>
          <h2>{t("settings.title")}</h2>
          <p className="muted">{t("settings.intro", { zone: workspaceTimezone })}</p>
        </div>
      </header>
      {problems?.length ? (
        <ul className="ins-problems">
          {problems.map((p, i) => (
            <li key={i}>{p.message[locale]}</li>
          ))}
        </ul>
      ) : null}
      <fieldset disabled={readOnly} className="ins-fieldset">
        <div className="ins-field">
          <label htmlFor="journey-name">{t("settings.name")}</label>
          <DraftInput id="journey-name" value={name} onValue={(v) => typeof v === "string" && v.trim() !== "" && rename(v)} />
        </div>
        <SchemaForm
          schema={journeySettingsSchema}
          value={settings}
          onChange={(next, field) => updateSettings(next as JourneySettings, `settings:${field}`)}
          disabled={readOnly}
          hints={settingsHints}
          idPrefix="settings"
        />
      </fieldset>
    </div>
  );
}
