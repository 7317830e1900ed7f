import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { providerCallbackUrl } from "../../app/channels/provider-callbacks.server";
import { query } from "../../db/client";
import { getuiPush } from "../../extensions/getui/src/index";
import { registerChannelProvider, unregisterChannelProvider } from "../../nodes/channels/custom-providers.server";
import { channelsOf } from "../../nodes/channels/runtime.server";
import { saveProviderSettings } from "../../nodes/channels/settings.server";
import { startGetuiFake, type GetuiFake } from "../fakes/getui-server";
import { startTestApp, type TestApp } from "../support/app";
import { createUser, request } from "./support";

/**
 * The custom-provider callback route over real HTTP (the Remix build behind express): Getui posts
 * its signed receipt lines to the URL Settings shows; a wrong token is 403, a provider that is not
 * loaded 404, and the genuine receipt marks the message delivered.
 */
let app: TestApp;
let getui: GetuiFake;

beforeAll(async () => {
  registerChannelProvider(getuiPush);
  [app, getui] = await Promise.all([startTestApp({ serve: true, env: { WAYPOST_SECRET_KEY: "callback-http-test-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }), startGetuiFake()]);
  getui.devices.set("cid-http", { vendor: "xm", online: true });
  await saveProviderSettings(app.services.db, channelsOf(app.services).key(), {
    workspaceId: app.workspaceId,
    channel: "push",
    provider: "getui.push",
    config: { appId: getui.appId, appKey: getui.appKey, baseUrl: getui.baseUrl },
    secrets: { masterSecret: getui.masterSecret },
  });
});
afterAll(async () => {
  unregisterChannelProvider(getuiPush.id);
  await app?.services.channels?.close();
  await getui?.close();
  await app?.close();
});

it("POST /callbacks/provider/getui.push/<token> applies Getui's receipt; forged addresses are refused", async () => {
  await createUser({ db: app.services.db } as Parameters<typeof createUser>[0], app.workspaceId, "http-user", { tokens: ["cid-http"] });
  const sent = await channelsOf(app.services).messaging.sendMessage(request(app.workspaceId, { userId: "http-user", category: "transactional" }));
  expect(sent.status).toBe("sent");
  const push = getui.pushes.at(-1)!;
  const url = await providerCallbackUrl(app.services, app.workspaceId, app.url, "getui.push");
  const body = getui.receiptBody([{ cid: "cid-http", taskid: push.taskId, code: "200" }]);

  const forged = await fetch(url.replace(/\.[^./]+$/, `.${"x".repeat(32)}`), { method: "POST", body });
  expect(forged.status).toBe(403);
  const unknown = await fetch(url.replace("/getui.push/", "/acme.none/"), { method: "POST", body });
  expect(unknown.status).toBe(404);
  const res = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ result: "ok" });
  const [row] = await query<{ state: string }>(app.services.db, sql`select state from messages where id = ${sent.messageId!}`);
  expect(row!.state).toBe("delivered");
});
