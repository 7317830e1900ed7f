import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { json, redirect } from "@remix-run/node";
import { Form, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { login } from "../lib/auth.server";
import { getSession, sessionCookie } from "../lib/session.server";

export const meta: MetaFunction = () => [{ title: "Waypost" }];

/** Only same-site paths are followed after login, so `next` cannot send users elsewhere. */
function safeNext(value: FormDataEntryValue | string | null): string {
  const next = typeof value === "string" ? value : "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/journeys";
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (await getSession(request, context)) throw redirect(safeNext(new URL(request.url).searchParams.get("next")));
  return json({});
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const email = String(form.get("email") ?? "").trim();
  const password = String(form.get("password") ?? "");
  if (!email || !password) return json({ error: "missing" as const, email }, { status: 400 });
  const { db, config, now } = context.services;
  const result = await login(db, email, password, config.WAYPOST_SESSION_TTL_HOURS, now());
  if (!result.ok) return json({ error: "failed" as const, email }, { status: 401 });
  return redirect(safeNext(form.get("next")), {
    headers: { "Set-Cookie": sessionCookie(request, context, result.token, result.expiresAt) },
  });
}

export default function Login() {
  const { t } = useTranslation();
  const actionData = useActionData<typeof action>();
  const [params] = useSearchParams();
  const navigation = useNavigation();
  return (
    <main className="login-page">
      <div className="login-card">
        <div className="brand">
          <span className="brand-mark" aria-hidden>◆</span> {t("appName")}
          <span className="brand-tagline">{t("tagline")}</span>
        </div>
        <h1>{t("login.title")}</h1>
        {params.get("expired") && !actionData ? <p className="notice">{t("login.expired")}</p> : null}
        {actionData?.error ? (
          <p className="form-error" role="alert">
            {t(`login.${actionData.error}`)}
          </p>
        ) : null}
        <Form method="post" className="stack">
          <input type="hidden" name="next" value={params.get("next") ?? ""} />
          <label>
            {t("login.email")}
            <input name="email" type="email" autoComplete="username" required defaultValue={actionData?.email} autoFocus />
          </label>
          <label>
            {t("login.password")}
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button type="submit" className="primary" disabled={navigation.state !== "idle"}>
            {t("login.submit")}
          </button>
        </Form>
        <LanguageSwitch />
      </div>
    </main>
  );
}
