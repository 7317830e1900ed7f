import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { LOCALE_COOKIE, locales, type Locale } from "../i18n";

/** Stores the operator's language choice for a year and returns to the page they were on. */
export async function action({ request }: ActionFunctionArgs) {
  // A body that is not a form is the client's mistake, not a 500.
  const form = await request.formData().catch(() => null);
  if (!form) return new Response("Send a form with locale (zh or en) and back.", { status: 400 });
  const locale = String(form.get("locale"));
  const back = String(form.get("back") ?? "/");
  if (!locales.includes(locale as Locale)) return new Response(`Unknown locale "${locale.slice(0, 20)}"; use zh or en.`, { status: 400 });
  // Only a local path in printable ASCII (what a browser's location gives): a header cannot carry more.
  return redirect(/^\/(?!\/)[\x21-\x7e]*$/.test(back) ? back : "/", {
    headers: { "Set-Cookie": `${LOCALE_COOKIE}=${locale}; Path=/; Max-Age=31536000; SameSite=Lax` },
  });
}

export const loader = () => redirect("/");
