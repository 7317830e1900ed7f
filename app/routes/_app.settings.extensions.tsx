import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { ExtensionSettingsError, extensionsView, saveExtensionSecret } from "../extensions/settings.server";
import { requireSession } from "../lib/session.server";

/** Settings › Extensions (admin and developer): what WAYPOST_EXTENSIONS loaded or refused, and node secrets. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context, "developer");
  return json(await extensionsView(context.services, session.workspaceId));
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireSession(request, context, "developer");
  const form = await request.formData();
  try {
    await saveExtensionSecret(context.services, {
      workspaceId: session.workspaceId,
      operatorId: session.operatorId,
      nodeType: form.get("nodeType"),
      name: form.get("name"),
      value: form.get("value"),
      remove: form.get("intent") === "remove",
    });
    return json({ ok: true as const, saved: `${String(form.get("nodeType"))}:${String(form.get("name"))}` });
  } catch (error) {
    if (error instanceof ExtensionSettingsError) return json({ ok: false as const, field: error.field, error: error.message }, { status: 400 });
    throw error;
  }
}

export default function ExtensionSettingsPage() {
  const { t, i18n } = useTranslation("extensions");
  const view = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const locale = i18n.language.startsWith("zh") ? "zh" : "en";
  return (
    <>
      <p className="ch-breadcrumb">
        <Link to="/settings">{t("back")}</Link>
      </p>
      <h1>{t("title")}</h1>
      <p className="muted">{t("intro", { version: view.apiVersion })}</p>
      {result && !result.ok ? (
        <p className="form-error" role="alert">
          {result.error}
        </p>
      ) : null}
      {result?.ok ? <p role="status">{t("saved")}</p> : null}
      {view.extensions.length === 0 ? (
        <section className="card" data-testid="extensions-empty">
          <h2>{t("empty.title")}</h2>
          <p>{t("empty.body")}</p>
        </section>
      ) : (
        <table className="table" data-testid="extensions">
          <thead>
            <tr>
              <th>{t("columns.extension")}</th>
              <th>{t("columns.version")}</th>
              <th>{t("columns.status")}</th>
              <th>{t("columns.nodes")}</th>
            </tr>
          </thead>
          <tbody>
            {view.extensions.map((ext) => (
              <tr key={ext.spec} data-testid={`extension-${ext.name}`} data-status={ext.status}>
                <td>
                  <strong>{ext.name}</strong>
                  <br />
                  <small className="muted">{ext.spec}</small>
                </td>
                <td>{ext.version || "—"}</td>
                <td>
                  <span className={ext.status === "loaded" ? "badge ok" : "badge error"}>{t(`status.${ext.status}`)}</span>
                  {ext.error ? (
                    <p className="form-error" data-testid="extension-error">
                      {ext.error}
                    </p>
                  ) : null}
                </td>
                <td>
                  <ul>
                    {ext.nodes.map((node) => (
                      <li key={node.id}>
                        {node.title[locale]} <code>{node.id}</code> · {t("nodeVersion", { version: node.version })}
                        {node.secrets.map((secret) => (
                          // Keyed by what was last saved, so a saved value does not linger in the field.
                          <Form method="post" className="row" key={`${secret.name}:${result?.ok ? result.saved : ""}`} data-testid={`secret-${node.id}-${secret.name}`}>
                            <input type="hidden" name="nodeType" value={node.id} />
                            <input type="hidden" name="name" value={secret.name} />
                            <label>
                              {secret.label[locale]} ({secret.set ? t("secret.set") : t("secret.notSet")})
                              <input type="password" name="value" autoComplete="off" placeholder={t("secret.placeholder")} />
                            </label>
                            <button type="submit" name="intent" value="save">
                              {t("secret.save")}
                            </button>
                            {secret.set ? (
                              <button type="submit" name="intent" value="remove" className="link">
                                {t("secret.remove")}
                              </button>
                            ) : null}
                          </Form>
                        ))}
                      </li>
                    ))}
                  </ul>
                  {ext.providers > 0 ? <p className="muted">{t("providers", { count: ext.providers })}</p> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
