import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiKeyScopes, type ApiKeyScope } from "../../db/schema";
import { roleMay, scopesForRole } from "../lib/permissions";
import { trpc } from "../trpc/client";

const kinds = ["write", "secret"] as const;
const roleOptions = ["marketer", "developer", "admin"] as const;

export default function SettingsPage() {
  const { t, i18n } = useTranslation();
  const me = trpc.settings.me.useQuery();
  // Sections follow the permission table (the procedures behind them check again).
  const canManageKeys = me.data ? roleMay(me.data.role, "apiKeys.manage") : false;
  const isAdmin = me.data ? roleMay(me.data.role, "operators.manage") : false;
  const canReadAudit = me.data ? roleMay(me.data.role, "auditLog.read") : false;
  const date = (value: Date | string | null) => (value ? new Date(value).toLocaleString(i18n.language) : t("settings.never"));
  return (
    <>
      <h1>{t("settings.title")}</h1>
      {me.data ? (
        <section className="card">
          <h2>{t("settings.workspace")}</h2>
          <p>
            {me.data.workspace?.name} · {t("settings.timezone")}: {me.data.workspace?.timezone}
          </p>
        </section>
      ) : null}
      <p className="card">
        <a href="/settings/account" data-testid="account-settings-link">{t("accounts:links.account")}</a> <span className="muted">{t("accounts:links.accountHelp")}</span>
        {isAdmin ? (
          <>
            <br />
            <a href="/settings/team" data-testid="team-settings-link">{t("accounts:links.team")}</a> <span className="muted">{t("accounts:links.teamHelp")}</span>
          </>
        ) : null}
      </p>
      {canManageKeys ? <p className="card"><a href="/settings/channels" data-testid="channels-settings-link">{t("channels:settings.link")}</a></p> : null}
      {canManageKeys ? <p className="card"><a href="/settings/extensions" data-testid="extensions-settings-link">{t("extensions:link")}</a></p> : null}
      {canManageKeys && me.data ? <ApiKeys date={date} role={me.data.role} /> : null}
      {isAdmin ? <Team /> : null}
      {canReadAudit ? <Audit date={date} /> : null}
    </>
  );
}

function ApiKeys({ date, role }: { date: (v: Date | string | null) => string; role: "admin" | "developer" | "marketer" }) {
  const { t } = useTranslation();
  // Only scopes no wider than the creator's role are offered (the server refuses wider ones too).
  const offered = scopesForRole(role);
  const [scope, setScope] = useState<ApiKeyScope>("read");
  const utils = trpc.useUtils();
  const keys = trpc.settings.apiKeys.useQuery();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<(typeof kinds)[number]>("write");
  const create = trpc.settings.createApiKey.useMutation({ onSuccess: () => utils.settings.apiKeys.invalidate() });
  const revoke = trpc.settings.revokeApiKey.useMutation({ onSuccess: () => utils.settings.apiKeys.invalidate() });
  return (
    <section className="card" data-testid="api-keys">
      <h2>{t("settings.apiKeys")}</h2>
      <p className="muted">{t("settings.apiKeysHelp")}</p>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate({ kind, name, scope });
        }}
      >
        <label>
          {t("settings.keyName")}
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {t("settings.keyKind")}
          <select value={kind} onChange={(e) => setKind(e.target.value as (typeof kinds)[number])}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {t(`settings.kinds.${k}`)}
              </option>
            ))}
          </select>
        </label>
        {kind === "secret" ? (
          <label title={t("permissions:scopeCapped")}>
            {t("permissions:scope")}
            <select value={scope} onChange={(e) => setScope(e.target.value as ApiKeyScope)} data-testid="key-scope">
              {apiKeyScopes.filter((s) => offered.includes(s)).map((s) => (
                <option key={s} value={s} title={t(`permissions:scopeHelp.${s}`)}>
                  {t(`permissions:scopes.${s}`)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <button type="submit" className="primary" disabled={create.isPending}>
          {t("settings.createKey")}
        </button>
      </form>
      {create.error ? (
        <p className="form-error" role="alert">
          {create.error.message}
        </p>
      ) : null}
      {create.data ? (
        <p className="notice" data-testid="new-key">
          {t("settings.newKeyShownOnce")} <code>{create.data.key}</code>
        </p>
      ) : null}
      {keys.data && keys.data.length === 0 ? <p className="muted">{t("settings.noKeys")}</p> : null}
      {keys.data && keys.data.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>{t("settings.keyName")}</th>
              <th>{t("settings.keyKind")}</th>
              <th>{t("permissions:scope")}</th>
              <th>{t("settings.prefix")}</th>
              <th>{t("settings.created")}</th>
              <th>{t("settings.lastUsed")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.data.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{t(`settings.kinds.${key.kind}`)}</td>
                <td>{key.kind === "secret" ? t(`permissions:scopes.${key.scope}`) : t("permissions:scopeWriteKey")}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{date(key.createdAt)}</td>
                <td>{date(key.lastUsedAt)}</td>
                <td>
                  {key.revokedAt ? (
                    t("settings.revoked")
                  ) : (
                    <button type="button" className="link danger" onClick={() => revoke.mutate({ id: key.id })}>
                      {t("settings.revoke")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function Team() {
  const { t } = useTranslation();
  const utils = trpc.useUtils();
  const operators = trpc.settings.operators.useQuery();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<(typeof roleOptions)[number]>("marketer");
  const create = trpc.settings.createOperator.useMutation({ onSuccess: () => utils.settings.operators.invalidate() });
  return (
    <section className="card">
      <h2>{t("settings.operators")}</h2>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate({ email, role });
        }}
      >
        <label>
          {t("login.email")}
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("settings.role")}
          <select value={role} onChange={(e) => setRole(e.target.value as (typeof roleOptions)[number])}>
            {roleOptions.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          {t("settings.addOperator")}
        </button>
      </form>
      {create.error ? (
        <p className="form-error" role="alert">
          {create.error.data?.issues?.map((i) => i.message).join("; ") || create.error.message}
        </p>
      ) : null}
      {create.data?.password ? <p className="notice">{t("settings.newPassword", { email: create.data.email, password: create.data.password })}</p> : null}
      <table className="table">
        <tbody>
          {operators.data?.map((op) => (
            <tr key={op.id}>
              <td>{op.name}</td>
              <td>{op.email}</td>
              <td>{t(`roles.${op.role}`)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Audit({ date }: { date: (v: Date | string | null) => string }) {
  const { t } = useTranslation();
  const log = trpc.settings.auditLog.useQuery();
  return (
    <section className="card">
      <h2>{t("settings.auditLog")}</h2>
      <table className="table">
        <thead>
          <tr>
            <th>{t("settings.at")}</th>
            <th>{t("settings.by")}</th>
            <th>{t("settings.action")}</th>
            <th>{t("settings.target")}</th>
          </tr>
        </thead>
        <tbody>
          {log.data?.map((entry) => (
            <tr key={entry.id}>
              <td>{date(entry.at)}</td>
              <td>{entry.operator ?? "system"}</td>
              <td>
                <code>{entry.action}</code>
              </td>
              <td>{entry.target}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
