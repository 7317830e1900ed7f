import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { requireSessionFor } from "../lib/permissions.server";
import { trpc } from "../trpc/client";

const roleOptions = ["marketer", "developer", "admin"] as const;
type RoleOption = (typeof roleOptions)[number];

/** Settings → Team (admins): invite, change roles, deactivate and reactivate, reset passwords, end sessions. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSessionFor(request, context, "operators.manage");
  return json({ me: session.operatorId });
}

type Issues = { path: string; message: string }[] | undefined;

export default function TeamPage() {
  const { me } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("accounts");
  const utils = trpc.useUtils();
  const team = trpc.accounts.team.useQuery();
  const refresh = () => utils.accounts.team.invalidate();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<RoleOption>("marketer");
  const [notice, setNotice] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ email: string; password: string } | null>(null);
  const invite = trpc.accounts.invite.useMutation({
    onSuccess: (created) => {
      setSecret({ email: created.email, password: created.oneTimePassword });
      setNotice(null);
      setEmail("");
      setName("");
      void refresh();
    },
  });
  const done = () => {
    setNotice(t("team.changed"));
    void refresh();
  };
  const changeRole = trpc.accounts.changeRole.useMutation({ onSuccess: done });
  const deactivate = trpc.accounts.deactivate.useMutation({ onSuccess: done });
  const reactivate = trpc.accounts.reactivate.useMutation({ onSuccess: done });
  const endSessions = trpc.accounts.endSessions.useMutation({
    onSuccess: (r) => {
      setNotice(t("team.sessionsEnded", { count: r.endedSessions }));
      void refresh();
    },
  });
  const reset = trpc.accounts.resetPassword.useMutation({
    onSuccess: (r) => {
      setSecret({ email: r.email, password: r.oneTimePassword });
      setNotice(null);
      void refresh();
    },
  });
  const [localError, setLocalError] = useState<string | null>(null);
  /** Server refusals in the page's language where we know them; the server's own words otherwise. */
  const say = (error: { message: string; data?: { code?: string } | null } | null | undefined): string | undefined => {
    if (!error) return undefined;
    if (error.data?.code === "PRECONDITION_FAILED") return t("team.errors.lastAdmin");
    if (error.data?.code === "SERVICE_UNAVAILABLE") return t("team.errors.busy");
    return error.message;
  };
  const rowError = localError ?? say([changeRole, deactivate, reactivate, endSessions, reset].find((m) => m.error)?.error);
  const inviteIssues = invite.error?.data?.issues as Issues;
  const inviteError = inviteIssues?.some((i) => i.path === "email")
    ? invite.error?.data?.code === "CONFLICT"
      ? t("team.errors.emailTaken")
      : t("team.errors.invalidEmail")
    : invite.error?.data?.code === "CONFLICT"
      ? t("team.errors.emailTaken")
      : say(invite.error);
  const activeAdmins = team.data?.filter((o) => o.role === "admin" && !o.deactivatedAt).length ?? 0;
  const date = (value: Date | string | null) => (value ? new Date(value).toLocaleString(i18n.language) : t("team.never"));

  return (
    <>
      <p className="muted">
        <Link to="/settings">{t("back")}</Link>
      </p>
      <h1>{t("team.title")}</h1>
      <p className="muted">{t("team.intro")}</p>
      <section className="card">
        <h2>{t("team.invite")}</h2>
        <p className="muted">{t("team.inviteHelp")}</p>
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            invite.mutate({ email, name: name.trim() || undefined, role });
          }}
        >
          <label>
            {t("team.email")}
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </label>
          <label>
            {t("team.name")}
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={80} />
          </label>
          <label>
            {t("team.role")}
            <select value={role} onChange={(e) => setRole(e.target.value as RoleOption)}>
              {roleOptions.map((r) => (
                <option key={r} value={r}>
                  {t(`common:roles.${r}`)}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={invite.isPending}>
            {t("team.send")}
          </button>
        </form>
        {invite.error ? (
          <p className="form-error" role="alert">
            {inviteError}
          </p>
        ) : null}
      </section>
      {secret ? (
        <p className="notice" data-testid="one-time-password">
          {t("team.oneTimePassword", { email: secret.email })} <code>{secret.password}</code>
        </p>
      ) : null}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {rowError ? (
        <p className="form-error" role="alert">
          {rowError}
        </p>
      ) : null}
      <section className="card">
        <table className="table" data-testid="team">
          <thead>
            <tr>
              <th>{t("team.nameColumn")}</th>
              <th>{t("team.email")}</th>
              <th>{t("team.role")}</th>
              <th>{t("team.status")}</th>
              <th>{t("team.lastSignIn")}</th>
              <th>{t("team.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {team.data?.map((op) => (
              <tr key={op.id} data-email={op.email}>
                <td>
                  {op.name}
                  {op.id === me ? <span className="data-badge">{t("team.you")}</span> : null}
                </td>
                <td>{op.email}</td>
                <td>
                  <select
                    aria-label={t("team.changeRole", { email: op.email })}
                    value={op.role}
                    disabled={changeRole.isPending}
                    onChange={(e) => {
                      const next = e.target.value as RoleOption;
                      // The last active admin keeps the role: said here, refused by the server too.
                      if (op.role === "admin" && next !== "admin" && !op.deactivatedAt && activeAdmins <= 1) {
                        setLocalError(t("team.errors.lastAdmin"));
                        return;
                      }
                      setLocalError(null);
                      changeRole.mutate({ operatorId: op.id, role: next });
                    }}
                  >
                    {roleOptions.map((r) => (
                      <option key={r} value={r}>
                        {t(`common:roles.${r}`)}
                      </option>
                    ))}
                  </select>
                </td>
                <td data-testid="status">
                  {op.deactivatedAt ? (
                    <span className="data-state data-state-failed">{t("team.deactivated")}</span>
                  ) : op.mustChangePassword ? (
                    <span className="data-state">{t("team.pending")}</span>
                  ) : (
                    <span className="data-state data-state-delivered">{t("team.active")}</span>
                  )}
                </td>
                <td>{date(op.lastSignInAt)}</td>
                <td>
                  <div className="row">
                  {op.deactivatedAt ? (
                    <button type="button" className="link" onClick={() => reactivate.mutate({ operatorId: op.id })}>
                      {t("team.reactivate")}
                    </button>
                  ) : op.id === me ? null : (
                    <button
                      type="button"
                      className="link danger"
                      onClick={() => {
                        if (window.confirm(t("team.confirmDeactivate", { email: op.email }))) deactivate.mutate({ operatorId: op.id });
                      }}
                    >
                      {t("team.deactivate")}
                    </button>
                  )}
                  {op.id === me ? null : (
                    <>
                      <button
                        type="button"
                        className="link"
                        onClick={() => {
                          if (window.confirm(t("team.confirmReset", { email: op.email }))) reset.mutate({ operatorId: op.id });
                        }}
                      >
                        {t("team.resetPassword")}
                      </button>
                      <button type="button" className="link" onClick={() => endSessions.mutate({ operatorId: op.id })}>
                        {t("team.endSessions")}
                      </button>
                    </>
                  )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
