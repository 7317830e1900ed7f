import type { LinksFunction, ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { unsubscribe, unsubscribePreview } from "../channels/http.server";
import channelStyles from "../channels/channels.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: channelStyles }];

/** Shows whose address this is without giving it away to someone the mail was forwarded to. */
function mask(address: string): string {
  const [local = "", domain = ""] = address.split("@");
  return `${local.slice(0, 1)}${"•".repeat(Math.max(2, Math.min(6, local.length - 1)))}@${domain}`;
}

/**
 * GET: the confirmation page behind the List-Unsubscribe link. It changes nothing (link scanners
 * and previews fetch every URL in a mail); the button unsubscribes.
 */
export async function loader({ context, params }: LoaderFunctionArgs) {
  const preview = await unsubscribePreview(context.services, params.token ?? "");
  if (preview.status !== 200) return json({ ok: false as const, address: null, done: false }, { status: preview.status });
  return json({ ok: true as const, address: mask(preview.address), done: preview.done });
}

/** The page's button (a mail client's one-click POST goes to /t/u/:token instead). */
export async function action({ context, params }: ActionFunctionArgs) {
  const result = await unsubscribe(context.services, params.token ?? "");
  return json({ done: result.status === 200 }, { status: result.status });
}

export const meta: MetaFunction = () => [{ title: "Waypost" }, { name: "robots", content: "noindex" }];

export default function UnsubscribePage() {
  const data = useLoaderData<typeof loader>();
  const posted = useActionData<typeof action>();
  const { t } = useTranslation("channels");
  const done = data.done || posted?.done;
  return (
    <main className="login-page">
      <section className="login-card" data-testid="unsubscribe">
        <h1>{t("unsubscribe.title")}</h1>
        {!data.ok ? (
          <p className="form-error" role="alert">
            {t("unsubscribe.invalid")}
          </p>
        ) : done ? (
          <p className="notice" role="status">
            {t("unsubscribe.done", { address: data.address })}
          </p>
        ) : (
          <Form method="post">
            <p>{t("unsubscribe.confirm", { address: data.address })}</p>
            <button type="submit" className="primary">
              {t("unsubscribe.button")}
            </button>
          </Form>
        )}
      </section>
    </main>
  );
}
