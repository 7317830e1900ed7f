import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { loadExtension } from "../../nodes/extension/loader.server";
import { applyProviderReceipts } from "../../nodes/channels/custom-providers.server";
import { createGuardedFetch, parseAllowlist } from "../../nodes/net/outbound.server";
import { deriveSecretKey } from "../../nodes/channels/secrets.server";
import { createMessagingService, type MessagingService } from "../../nodes/channels/send.server";
import { createProviderRegistry, savePolicySettings, saveProviderSettings, type ProviderRegistry } from "../../nodes/channels/settings.server";
import { upsertDeviceToken } from "../../nodes/channels/store.server";
import { rows } from "../../workflows/embedded/db.server";
import { createUserUpdater } from "../../workflows/embedded/user-updates.server";
import { createActivities } from "../../workflows/temporal/activities";
import { temporalGateway } from "../../workflows/temporal/client";
import { journeyTime, type JourneyClock } from "../../workflows/temporal/contract";
import { createTemporalEngine, type TemporalEngine } from "../../workflows/temporal/engine";
import { buildJourney } from "../../workflows/builder";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startGetuiFake, type GetuiFake } from "../fakes/getui-server";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

// 短信补量 through the Getui extension on a real Temporal server: the push node runs as an
// activity through the real send service and the settings registry (Getui loaded by the
// extension loader, loopback fakes allowed through the outbound guard), the 2-hour delivery wait
// is a Temporal timer on an accelerated journey clock (1 h of journey time per 5 real seconds: the
// receipt must be applied within the wait, and under load that took longer than 2 real s), and
// a Getui receipt reaches the waiting workflow as `$message.delivered` through the engine.
const HOUR = 3_600_000;
const T0 = Date.parse("2024-05-06T04:00:00.000Z"); // noon in Shanghai
const AK = { accessKeyId: "LTAI5tGetuiLive", accessKeySecret: "getui-live-secret" };

describe.skipIf(!temporalAddress)("Getui push → not delivered within 2 h → SMS, on Temporal", () => {
  let live: LiveTemporal;
  let getui: GetuiFake;
  let sms: AliyunSmsFake;
  let registry: ProviderRegistry;
  let messaging: MessagingService;
  let engine: TemporalEngine;
  let worker: Worker;
  let running: Promise<void>;
  let workspaceId: string;
  let journeyId: string;
  const clock: JourneyClock = { origin: T0, realOrigin: Date.now() + 2_000, rate: 720 };
  const now = () => journeyTime(clock, Date.now());

  beforeAll(async () => {
    [live, getui, sms] = await Promise.all([openLiveTemporal(), startGetuiFake(), startAliyunSmsFake(AK)]);
    sms.signNames.add("路标商城");
    sms.templates.set("SMS_2001", "${name}，10元红包已到账，回TD退订");
    getui.devices.set("cid-live-receipt", { vendor: "xm", online: true });
    getui.devices.set("cid-live-silent", { vendor: "hw", online: false });
    expect(await loadExtension("./extensions/getui")).toMatchObject({ status: "loaded" });

    const db = live.db.db;
    [{ id: workspaceId }] = await rows<{ id: string }>(db, sql`insert into workspaces (name, timezone) values (${`live-getui-${randomUUID()}`}, 'Asia/Shanghai') returning id`);
    const key = deriveSecretKey("getui-live-test-key-0123456789abcdef");
    registry = createProviderRegistry({ db, key, outboundAllow: parseAllowlist(["127.0.0.1"]), aliyunProtocol: "http", timeoutMs: 2_000 });
    messaging = createMessagingService({
      db,
      providers: registry.resolve,
      now: () => new Date(now()),
      emitEvent: (e) =>
        engine.handleEvents([{ workspaceId: e.workspaceId, userId: e.userId, messageId: e.messageId, name: e.name, properties: { ...e.properties }, timestamp: e.timestamp.getTime() }]),
    });
    await saveProviderSettings(db, key, {
      workspaceId,
      channel: "push",
      provider: "getui.push",
      config: { appId: getui.appId, appKey: getui.appKey, baseUrl: getui.baseUrl, vendors: ["xm", "hw"] },
      secrets: { masterSecret: getui.masterSecret },
    });
    await saveProviderSettings(db, key, { workspaceId, channel: "sms", provider: "aliyun-sms", config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint }, secrets: { accessKeySecret: AK.accessKeySecret } });
    await savePolicySettings(db, workspaceId, { frequencyCaps: [], quietHours: { enabled: false } });
    for (const [id, cid, phone] of [["live-1", "cid-live-receipt", "13800003001"], ["live-2", "cid-live-silent", "13800003002"]] as const) {
      await rows(
        db,
        sql`insert into users (workspace_id, id, traits, timezone, phone, consent)
            values (${workspaceId}::uuid, ${id}, ${JSON.stringify({ name: id })}::jsonb, 'Asia/Shanghai', ${phone},
                    ${JSON.stringify({ push: { marketing: true }, sms: { marketing: true } })}::jsonb)`,
      );
      await upsertDeviceToken(db, { workspaceId, userId: id, token: cid, platform: "android" });
    }

    const taskQueue = `waypost-live-getui-${randomUUID()}`;
    const updater = createUserUpdater(db, now);
    const fetchLike = createGuardedFetch({ allow: parseAllowlist(["127.0.0.1"]) });
    const activities = createActivities({ db, now, actionServices: (ws) => ({ sendMessage: messaging.forWorkspace(ws), updateUser: updater(ws), fetch: fetchLike }) });
    worker = await Worker.create({ connection: live.connection, namespace: liveTemporalSettings().namespace, taskQueue, workflowBundle: { code: live.bundle.code }, activities });
    running = worker.run();
    engine = createTemporalEngine({ db, now: () => new Date(now()), gateway: temporalGateway(live.client, taskQueue) }, { clock, scheduleEveryMs: 10 });

    const document = buildJourney({
      name: "个推召回 on Temporal",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "push", type: "core.push", config: { title: "我们想你了", body: "送你一张 ¥10 优惠券", deliveryTimeoutMs: 2 * HOUR } },
        { id: "sms", type: "core.sms", config: { body: "${name}，10元红包已到账，回TD退订", templateCode: "SMS_2001", templateParams: { name: "{{ user.name }}" } } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "push"],
        ["push", "sent", "exit"],
        ["push", "failed", "sms"],
        ["sms", "sent", "exit"],
        ["sms", "failed", "exit"],
      ],
    });
    const created = await createJourney(db, { workspaceId }, { name: "个推召回 on Temporal", document });
    journeyId = created.id;
    const published = await publishJourney(db, { workspaceId }, { journeyId });
    if (!published.ok) throw new Error("journey does not compile");
    while (Date.now() < clock.realOrigin) await sleep(50);
    await engine.start();
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    worker?.shutdown();
    await running;
    await registry?.close();
    await Promise.all([getui?.close(), sms?.close()]);
    await closeLiveTemporal(live);
  });

  const left = async (userId: string) =>
    (
      await rows<{ node_id: string; output: string; reason: string | null }>(
        live.db.db,
        sql`select node_id, output, reason from journey_node_events where journey_id = ${journeyId}::uuid and user_id = ${userId} and kind = 'left' order by seq`,
      )
    ).map((r) => `${r.node_id}:${r.output}${r.reason ? `:${r.reason}` : ""}`);
  const until = async (check: () => Promise<boolean> | boolean, what: string, realMs = 60_000) => {
    const deadline = Date.now() + realMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const trigger = async (userId: string) => {
    const messageId = randomUUID();
    const at = now();
    await rows(live.db.db, sql`insert into events (workspace_id, message_id, user_id, name, properties, timestamp) values (${workspaceId}::uuid, ${messageId}, ${userId}, '$api.trigger', '{}'::jsonb, ${new Date(at).toISOString()}::timestamptz)`);
    await engine.handleEvents([{ workspaceId, userId, messageId, name: "$api.trigger", properties: {}, timestamp: at }]);
  };

  it("a receipt within the wait leaves by sent; no receipt in 2 h of journey time sends the SMS", async () => {
    await trigger("live-1");
    await trigger("live-2");
    await until(() => getui.pushes.some((p) => p.cid === "cid-live-receipt") && getui.pushes.some((p) => p.cid === "cid-live-silent"), "both pushes at Getui");
    const receipt = getui.pushes.find((p) => p.cid === "cid-live-receipt")!;

    // Getui's receipt, as its callback body, applied as the route applies it.
    const resolved = await registry.resolve(workspaceId, "push");
    const parsed = await resolved.provider.handleCallback!({ method: "POST", headers: {}, query: {}, body: getui.receiptBody([{ cid: "cid-live-receipt", taskid: receipt.taskId, code: "200" }]) });
    expect(await applyProviderReceipts({ db: live.db.db, messaging }, workspaceId, "getui.push", parsed.receipts)).toBe(1);

    await until(async () => (await left("live-1")).includes("push:sent"), "live-1 to leave the push by sent");
    await until(async () => (await left("live-2")).includes("sms:sent"), "live-2's SMS after the 2-hour wait");
    expect((await left("live-2")).slice(0, 3)).toEqual(["trigger:next", "push:failed:not_delivered", "sms:sent"]);
    expect(sms.sent.map((s) => s.phone)).toEqual(["13800003002"]);
    expect((await left("live-1")).slice(0, 2)).toEqual(["trigger:next", "push:sent"]);
  }, 120_000);
});
