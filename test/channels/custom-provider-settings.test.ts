import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../app/lib/auth.server";
import { providerCallback } from "../../app/channels/provider-callbacks.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { query } from "../../db/client";
import { getuiPush } from "../../extensions/getui/src/index";
import { registerChannelProvider, unregisterChannelProvider } from "../../nodes/channels/custom-providers.server";
import { channelsOf } from "../../nodes/channels/runtime.server";
import { startGetuiFake, type GetuiFake } from "../fakes/getui-server";
import { startTestApp, type TestApp } from "../support/app";
import { createUser, request } from "./support";

/**
 * A custom provider on Settings › Channels through the `channels` tRPC router (listed, chosen,
 * validated with 400s naming the field, secrets never returned), and its receipt callback on the
 * app's real runtime: the URL Settings shows carries the workspace's signed token, Getui's signed
 * receipt posted there marks the message delivered, and the URL stops working after the callback
 * tokens are replaced.
 */
describe("custom channel providers in Settings › Channels", () => {
  let app: TestApp;
  let getui: GetuiFake;
  const createCaller = createCallerFactory(appRouter);
  let session: SessionInfo;
  const as = () => createCaller({ services: app.services, session }).channels;

  beforeAll(async () => {
    registerChannelProvider(getuiPush);
    [app, getui] = await Promise.all([startTestApp({ env: { WAYPOST_SECRET_KEY: "custom-provider-test-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }), startGetuiFake()]);
    getui.devices.set("cid-settings", { vendor: "hw", online: true });
    const op = await app.addOperator("developer");
    session = { operatorId: op.id, workspaceId: app.workspaceId, email: op.email, name: "dev", role: "developer", locale: null };
  });
  afterAll(async () => {
    unregisterChannelProvider(getuiPush.id);
    await app?.services.channels?.close();
    await getui?.close();
    await app?.close();
  });

  async function failure(work: Promise<unknown>): Promise<{ code: string; issues: Record<string, string> }> {
    try {
      await work;
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error;
      const cause = error.cause as { issues?: { path: (string | number)[]; message: string }[] } | undefined;
      return { code: error.code, issues: Object.fromEntries((cause?.issues ?? []).map((i) => [i.path.join("."), i.message])) };
    }
    return { code: "OK", issues: {} };
  }
  const stored = () => query<{ provider: string }>(app.services.db, sql`select provider from channel_settings where workspace_id = ${app.workspaceId} and kind = 'push'`);

  it("lists the extension's provider for its channel with its fields and callback address", async () => {
    const settings = await as().settings({ origin: "https://waypost.example.com" });
    const getuiView = settings.customProviders.find((p) => p.id === "getui.push")!;
    expect(getuiView).toMatchObject({ channel: "push", version: "1.0.0", label: { zh: "个推推送" }, secretFields: ["masterSecret"] });
    expect(getuiView.configFields).toEqual(expect.arrayContaining(["appId", "appKey", "strategy", "vendors", "messageType"]));
    expect(getuiView.callbackUrl).toMatch(new RegExp(`^https://waypost\\.example\\.com/callbacks/provider/getui\\.push/${app.workspaceId}\\.[A-Za-z0-9_-]{32}$`));
  });

  it("refuses an unknown provider and a config that does not fit, naming the field; nothing is stored", async () => {
    expect(await failure(as().saveProvider({ channel: "push", provider: "acme.nothing", config: {} }))).toMatchObject({ code: "BAD_REQUEST", issues: { provider: expect.stringMatching(/unknown provider "acme\.nothing"/) } });
    expect(await failure(as().saveProvider({ channel: "sms", provider: "getui.push", config: {} }))).toMatchObject({ code: "BAD_REQUEST", issues: { provider: "getui.push cannot send sms" } });
    const bad = await failure(as().saveProvider({ channel: "push", provider: "getui.push", config: { appId: getui.appId, strategy: { default: 7 } }, secrets: { masterSecret: "x" } }));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(Object.keys(bad.issues).sort()).toEqual(["config.appKey", "config.strategy.default"]);
    const noSecret = await failure(as().saveProvider({ channel: "push", provider: "getui.push", config: { appId: getui.appId, appKey: getui.appKey } }));
    expect(noSecret).toMatchObject({ code: "BAD_REQUEST", issues: { "secrets.masterSecret": expect.any(String) } });
    expect(await stored()).toEqual([]);
  });

  it("saves it (secret sealed, never returned), sends through it, and its signed callback marks the message delivered", async () => {
    await as().saveProvider({ channel: "push", provider: "getui.push", config: { appId: getui.appId, appKey: getui.appKey, baseUrl: getui.baseUrl, vendors: ["hw"] }, secrets: { masterSecret: getui.masterSecret } });
    const settings = await as().settings({ origin: "https://waypost.example.com" });
    expect(settings.providers.find((p) => p.channel === "push")).toMatchObject({ provider: "getui.push", secretsSet: ["masterSecret"] });
    expect(JSON.stringify(settings)).not.toContain(getui.masterSecret);

    const db = { db: app.services.db } as Parameters<typeof createUser>[0];
    await createUser(db, app.workspaceId, "settings-user", { tokens: ["cid-settings"] });
    const sent = await channelsOf(app.services).messaging.sendMessage(request(app.workspaceId, { userId: "settings-user", category: "transactional" }));
    expect(sent.status).toBe("sent");
    const push = getui.pushes.at(-1)!;
    expect(push.cid).toBe("cid-settings");

    const url = settings.customProviders.find((p) => p.id === "getui.push")!.callbackUrl!;
    const token = url.slice(url.lastIndexOf("/") + 1);
    const post = (t: string, body: string) => providerCallback(app.services, new Request(url, { method: "POST", body }), "getui.push", t);
    const res = await post(token, getui.receiptBody([{ cid: "cid-settings", taskid: push.taskId, code: "200" }]));
    expect(res.status).toBe(200);
    const [row] = await query<{ state: string }>(app.services.db, sql`select state from messages where id = ${sent.messageId!}`);
    expect(row!.state).toBe("delivered");

    // A receipt for a message of another provider id or forged token changes nothing.
    expect((await post(`${app.workspaceId}.${"A".repeat(32)}`, "{}")).status).toBe(403);
    expect((await providerCallback(app.services, new Request(url, { method: "POST", body: "" }), "acme.other", token)).status).toBe(404);

    // Replacing the callback addresses retires this one at once.
    await channelsOf(app.services).rotateCallbackTokens(app.workspaceId);
    expect((await post(token, getui.receiptBody([{ cid: "cid-settings", taskid: push.taskId, code: "200" }]))).status).toBe(403);
  });
});
