import type { ActionFunctionArgs, HeadersFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { json, redirect } from "@remix-run/node";
import { Form, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { signIn } from "../lib/accounts.server";
import { passwordsOf } from "../lib/auth.server";
import { ACCOUNT_PATH, clientAddress, getSession, sessionCookie } from "../lib/session.server";

export const meta: MetaFunction = () => [{ title: "Waypost" }];

/** A sign-in form posted without JavaScript gets a whole page: it carries the action's Retry-After too. */
export const headers: HeadersFunction = ({ actionHeaders }) => {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { "Retry-After": retryAfter } : new Headers();
};

/** Only same-site paths are followed after login, so `next` cannot send users elsewhere. */
function safeNext(value: FormDataEntryValue | string | null): string {
  const next = typeof value === "string" ? value : "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/journeys";
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (await getSession(request, context)) throw redirect(safeNext(new URL(request.url).searchParams.get("next")));
  return json({});
}

type LoginError =
  | { error: "missing" | "failed" | "deactivated"; email: string; wait?: undefined }
  | { error: "lockedAccount" | "lockedAddress" | "busy"; email: string; wait: number };

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const email = String(form.get("email") ?? "").trim();
  const password = String(form.get("password") ?? "");
  const answer = (body: LoginError, status: number, retryAfter?: number) =>
    json(body, { status, headers: retryAfter ? { "Retry-After": String(retryAfter) } : undefined });
  if (!email || !password) return answer({ error: "missing", email }, 400);
  const { services } = context;
  const result = await signIn(
    { db: services.db, now: services.now, hasher: passwordsOf(services) },
    { email, password, address: clientAddress(request, context), ttlHours: services.config.WAYPOST_SESSION_TTL_HOURS },
  );
  if (result.ok) {
    const next = safeNext(form.get("next"));
    const target = result.session.mustChangePassword ? `${ACCOUNT_PATH}?${new URLSearchParams({ required: "1", next })}` : next;
    return redirect(target, { headers: { "Set-Cookie": sessionCookie(request, context, result.token, result.expiresAt) } });
  }
  switch (result.reason) {
    case "locked":
      return answer({ error: result.lock.scope === "account" ? "lockedAccount" : "lockedAddress", email, wait: result.lock.retryAfterSeconds }, 429, result.lock.retryAfterSeconds);
    case "busy":
      return answer({ error: "busy", email, wait: result.retryAfterSeconds }, 503, result.retryAfterSeconds);
    case "deactivated":
      return answer({ error: "deactivated", email }, 403);
    case "invalid":
      // The failure that starts a lock says so at once, with the wait.
      if (result.lock) {
        return answer({ error: result.lock.scope === "account" ? "lockedAccount" : "lockedAddress", email, wait: result.lock.retryAfterSeconds }, 429, result.lock.retryAfterSeconds);
      }
      return answer({ error: "failed", email }, 401);
  }
}

/** "2 minutes" / "45 seconds" in the page's language. */
function waitText(t: (key: string, options: { count: number }) => string, seconds: number): string {
  return seconds < 60 ? t("accounts:wait.seconds", { count: seconds }) : t("accounts:wait.minutes", { count: Math.ceil(seconds / 60) });
}

function errorText(t: (key: string, options?: Record<string, unknown>) => string, error: LoginError): string {
  switch (error.error) {
    case "missing":
    case "failed":
      return t(`login.${error.error}`);
    case "deactivated":
      return t("accounts:login.deactivated");
    default:
      return t(`accounts:login.${error.error}`, { wait: waitText((k, o) => t(k, o), error.wait) });
  }
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
          <p className="form-error" role="alert" data-testid="login-error">
            {errorText(t, actionData)}
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
