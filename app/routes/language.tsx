import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { LOCALE_COOKIE, locales, type Locale } from "../i18n";

/** Stores the operator's language choice for a year and returns to the page they were on. */
export async function action({ request }: ActionFunctionArgs) {
  const form = await request.formData();
  const locale = String(form.get("locale"));
  const back = String(form.get("back") ?? "/");
  if (!locales.includes(locale as Locale)) return new Response(`Unknown locale "${locale}"; use zh or en.`, { status: 400 });
  return redirect(back.startsWith("/") && !back.startsWith("//") ? back : "/", {
    headers: { "Set-Cookie": `${LOCALE_COOKIE}=${locale}; Path=/; Max-Age=31536000; SameSite=Lax` },
  });
}

export const loader = () => redirect("/");
