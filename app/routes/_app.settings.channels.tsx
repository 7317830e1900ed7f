import type { LinksFunction, LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { ChannelSettings } from "../channels/ChannelSettings";
import { requireSessionFor } from "../lib/permissions.server";
import channelStyles from "../channels/channels.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: channelStyles }];

/** Settings → Channels: providers, sending policy, callback URLs (admin and developer). */
export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireSessionFor(request, context, "channels.manage");
  return json({});
}

export default function ChannelSettingsPage() {
  const { t } = useTranslation("channels");
  return (
    <>
      <p className="ch-breadcrumb">
        <Link to="/settings">{t("settings.back")}</Link>
      </p>
      <h1>{t("settings.title")}</h1>
      <p className="muted">{t("settings.intro")}</p>
      <ChannelSettings />
    </>
  );
}
