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
  // Checked here first so the message is in the page's language; the server checks the same rules.
  const [problem, setProblem] = useState<{ field: "newPassword" | "confirm"; key: string } | null>(null);
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
  const code = change.error?.data?.code;
  const currentError = fieldError(issues, "currentPassword") ? t("account.errors.wrongCurrent") : undefined;
  const serverNewError = fieldError(issues, "newPassword");
  const generalError =
    code === "TOO_MANY_REQUESTS" ? t("account.errors.locked") : code === "SERVICE_UNAVAILABLE" ? t("account.errors.busy") : change.error && !issues?.length ? change.error.message : undefined;
  const check = (): typeof problem => {
    if (newPassword.length < 8) return { field: "newPassword", key: "account.errors.short" };
    if (newPassword.length > 256) return { field: "newPassword", key: "account.errors.long" };
    if (me.data && newPassword.trim().toLowerCase() === me.data.email.toLowerCase()) return { field: "newPassword", key: "account.errors.isEmail" };
    if (newPassword === currentPassword) return { field: "newPassword", key: "account.errors.same" };
    if (newPassword !== confirm) return { field: "confirm", key: "account.mismatch" };
    return null;
  };

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
            const found = check();
            setProblem(found);
            if (!found) change.mutate({ currentPassword, newPassword });
          }}
        >
          <label>
            {t("account.currentPassword")}
            <input type="password" autoComplete="current-password" value={currentPassword} onChange={(e) => setCurrent(e.target.value)} required />
          </label>
          {currentError ? <span className="form-error">{currentError}</span> : null}
          <label>
            {t("account.newPassword")}
            <input type="password" autoComplete="new-password" value={newPassword} onChange={(e) => setNew(e.target.value)} required minLength={8} maxLength={256} />
          </label>
          <span className="muted">{t("account.passwordRules")}</span>
          {problem?.field === "newPassword" ? <span className="form-error">{t(problem.key)}</span> : serverNewError ? <span className="form-error">{serverNewError}</span> : null}
          <label>
            {t("account.confirmPassword")}
            <input type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
          </label>
          {problem?.field === "confirm" ? <span className="form-error">{t(problem.key)}</span> : null}
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
