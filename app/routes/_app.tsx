import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { requireSession } from "../lib/session.server";
import { workspaceTimeZone } from "../lib/datetime.server";
import { describeExtensionNodes } from "../extensions/nodes.server";
import { registerRemoteNodes } from "../extensions/remote-nodes";

/** Every page under this layout needs a signed-in operator. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  // Node types loaded from extensions are not in the browser bundle: every page learns them here.
  // The workspace zone: every operator page shows times in it (app/components/useDateTime.ts).
  const timeZone = await workspaceTimeZone(context.services.db, session.workspaceId);
  return json({ session: { email: session.email, name: session.name, role: session.role }, extensionNodes: describeExtensionNodes(), timeZone });
}

export const navItems = ["journeys", "segments", "users", "messages", "instances", "settings"] as const;

export default function AppLayout() {
  const { session, extensionNodes } = useLoaderData<typeof loader>();
  registerRemoteNodes(extensionNodes);
  const { t } = useTranslation();
  return (
    <div className="app-shell">
      <header className="topbar">
        <a href="/journeys" className="brand">
          <span className="brand-mark" aria-hidden>◆</span> {t("appName")}
        </a>
        <nav aria-label="main">
          {navItems.map((item) => (
            <NavLink key={item} to={`/${item}`} className={({ isActive }) => (isActive ? "active" : undefined)}>
              {t(`nav.${item}`)}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-right">
          <span className="muted" data-testid="signed-in-as">
            {t("signedInAs", { email: session.email, role: t(`roles.${session.role}`) })}
          </span>
          <LanguageSwitch />
          <Form method="post" action="/logout">
            <button type="submit" className="link">
              {t("logout")}
            </button>
          </Form>
        </div>
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
