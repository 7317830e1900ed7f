import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { requireSession } from "../lib/session.server";
import { trpc } from "../trpc/client";

/** Settings → My account: one's own password and sessions. The only page open while a printed password must change. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const params = new URL(request.url).searchParams;
  const next = params.get("next") ?? "";
  return json({ required: Boolean(session.mustChangePassword), next: next.startsWith("/") && !next.startsWith("//") ? next : "/journeys" });
}

type Issues = { path: string; message: string }[] | undefined;

function fieldError(issues: Issues, field: string): string | undefined {
  return issues?.find((i) => i.path === field)?.message;
}

export default function AccountPage() {
  const { required, next } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("accounts");
  const utils = trpc.useUtils();
  const me = trpc.accounts.me.useQuery();
  const [currentPassword, setCurrent] = useState("");
  const [newPassword, setNew] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const change = trpc.accounts.changePassword.useMutation({
    onSuccess: () => {
      setCurrent("");
      setNew("");
      setConfirm("");
      // The layout's loader let only this page through; a full load applies the lifted restriction everywhere.
      if (required) window.location.assign(next);
      else void utils.accounts.me.invalidate();
    },
  });
  const everywhere = trpc.accounts.signOutEverywhere.useMutation({ onSuccess: () => window.location.assign("/login") });
  const issues = change.error?.data?.issues as Issues;
  const date = (value: Date | string | null | undefined) => (value ? new Date(value).toLocaleString(i18n.language) : t("account.never"));
  const generalError = change.error && !issues?.length ? change.error.message : undefined;

  return (
    <>
      {required ? null : (
        <p className="muted">
          <Link to="/settings">{t("back")}</Link>
        </p>
      )}
      <h1>{t("account.title")}</h1>
      {required ? (
        <p className="notice" role="status" data-testid="password-required">
          {t("account.required")}
        </p>
      ) : null}
      {me.data ? (
        <section className="card">
          <dl className="data-facts">
            <dt>{t("account.email")}</dt>
            <dd data-testid="account-email">{me.data.email}</dd>
            <dt>{t("account.role")}</dt>
            <dd>{t(`common:roles.${me.data.role}`)}</dd>
            <dt>{t("account.passwordChangedAt")}</dt>
            <dd>{date(me.data.passwordChangedAt)}</dd>
            <dt>{t("account.openSessions")}</dt>
            <dd data-testid="open-sessions">{me.data.openSessions}</dd>
          </dl>
        </section>
      ) : null}
      <section className="card">
        <h2>{t("account.changePassword")}</h2>
        <form
          className="stack"
          style={{ maxWidth: 420 }}
          onSubmit={(event) => {
            event.preventDefault();
            if (newPassword !== confirm) {
              setMismatch(true);
              return;
            }
            setMismatch(false);
            change.mutate({ currentPassword, newPassword });
          }}
        >
          <label>
            {t("account.currentPassword")}
            <input type="password" autoComplete="current-password" value={currentPassword} onChange={(e) => setCurrent(e.target.value)} required />
          </label>
          {fieldError(issues, "currentPassword") ? <span className="form-error">{fieldError(issues, "currentPassword")}</span> : null}
          <label>
            {t("account.newPassword")}
            <input type="password" autoComplete="new-password" value={newPassword} onChange={(e) => setNew(e.target.value)} required minLength={8} maxLength={256} />
          </label>
          <span className="muted">{t("account.passwordRules")}</span>
          {fieldError(issues, "newPassword") ? <span className="form-error">{fieldError(issues, "newPassword")}</span> : null}
          <label>
            {t("account.confirmPassword")}
            <input type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
          </label>
          {mismatch ? <span className="form-error">{t("account.mismatch")}</span> : null}
          <div className="row">
            <button type="submit" className="primary" disabled={change.isPending}>
              {t("account.save")}
            </button>
          </div>
          {generalError ? (
            <p className="form-error" role="alert">
              {generalError}
            </p>
          ) : null}
          {change.data && !required ? (
            <p className="notice" role="status" data-testid="password-changed">
              {t("account.saved", { count: change.data.endedSessions })}
            </p>
          ) : null}
        </form>
      </section>
      <section className="card">
        <h2>{t("account.signOutEverywhere")}</h2>
        <p className="muted">{t("account.signOutEverywhereHelp")}</p>
        <button
          type="button"
          className="danger"
          disabled={everywhere.isPending}
          onClick={() => {
            if (window.confirm(t("account.signOutEverywhereConfirm"))) everywhere.mutate();
          }}
        >
          {t("account.signOutEverywhere")}
        </button>
      </section>
    </>
  );
}
