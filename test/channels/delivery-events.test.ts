import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyStats } from "../../app/lib/analytics.server";
import { loadConfig } from "../../app/config.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { query } from "../../db/client";
import { createChannelsRuntime, deliverySeq, type ChannelsRuntime } from "../../nodes/channels/runtime.server";
import { savePolicySettings, saveProviderSettings } from "../../nodes/channels/settings.server";
import { buildJourney } from "../../workflows/builder";
import { createHarness, type EngineHarness } from "../engine/support";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";

/**
 * The app's wiring of the channels (createChannelsRuntime: node events + user events into the
 * engine) on the embedded engine: an SMS reported undelivered wakes the instance waiting for its
 * delivery at once ($message.failed), the fallback email goes out, its open is tracked, and
 * journeyStats counts sent / delivered / opened / failed exactly once per message.
 */
const T0 = Date.parse("2024-05-06T04:00:00.000Z"); // noon in Shanghai
const HOUR = 3_600_000;
const AK = { accessKeyId: "LTAI5tEvents", accessKeySecret: "events-secret" };
let h: EngineHarness;
let sms: AliyunSmsFake;
let smtp: SmtpFake;
let channels: ChannelsRuntime;
let journeyId: string;

beforeAll(async () => {
  [sms, smtp] = await Promise.all([startAliyunSmsFake(AK), startSmtpFake()]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_3001", "${name}，您的车费已扣除");
  h = await createHarness({ start: T0, engine: { actionServices: (workspaceId) => ({ sendMessage: channels.messaging.forWorkspace(workspaceId) }) } });
  const services: AppServices = {
    config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", WAYPOST_DEMO_DATA: "false", WAYPOST_SECRET_KEY: "events-test-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" }), // the loopback fakes, allowed explicitly
    database: h.db,
    db: h.db.db,
    log: createLogger("silent"),
    now: h.clock.now as () => Date,
    engine: h.engine,
  };
  services.now = () => new Date(h.clock.now());
  channels = createChannelsRuntime(services, { aliyunProtocol: "http", timeoutMs: 2_000 });
  await saveProviderSettings(h.db.db, channels.key(), { workspaceId: h.workspaceId, channel: "sms", provider: "aliyun-sms", config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint }, secrets: { accessKeySecret: AK.accessKeySecret } });
  await saveProviderSettings(h.db.db, channels.key(), { workspaceId: h.workspaceId, channel: "email", provider: "smtp", config: { host: "127.0.0.1", port: smtp.port, from: "路标 <n@example.com>", trackingBaseUrl: "https://wp.example.com" } });
  await savePolicySettings(h.db.db, h.workspaceId, { frequencyCaps: [], quietHours: { enabled: false } });
  ({ journeyId } = await h.publish(
    buildJourney({
      name: "fare notice with email fallback",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "sms", type: "core.sms", config: { category: "transactional", body: "${name}，您的车费已扣除", templateCode: "SMS_3001", templateParams: { name: "{{ user.name }}" }, deliveryTimeoutMs: 2 * HOUR } },
        { id: "email", type: "core.email", config: { category: "transactional", subject: "车费已扣除", html: '<p>详情</p><a href="https://metro.example.com/r">查看</a>' } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "sms"],
        ["sms", "sent", "exit"],
        ["sms", "failed", "email"],
        ["email", "sent", "exit"],
        ["email", "failed", "exit"],
      ],
    }),
  ));
});
afterAll(async () => {
  await channels?.close();
  await h?.close();
  await Promise.all([sms?.close(), smtp?.close()]);
});

describe("delivery states as node events, through the app's wiring", () => {
  it("wakes the waiting instance on $message.failed and counts every state once", async () => {
    await h.insertUsers([{ id: "rider-1", traits: { name: "林" }, timezone: "Asia/Shanghai" }]);
    await query(h.db.db, sql`update users set phone = '+86 138 0000 3001', email = 'rider-1@example.com' where workspace_id = ${h.workspaceId} and id = 'rider-1'`);
    await h.engine.handleEvents([await h.storeEvent("rider-1", "$api.trigger")]);
    await h.engine.runUntilIdle();
    const [row] = await query<{ id: string; provider_message_id: string }>(h.db.db, sql`select id, provider_message_id from messages where user_id = 'rider-1' and channel = 'sms'`);
    expect(row).toBeTruthy();
    expect(smtp.mails.length).toBe(0); // waiting for the SMS receipt

    // The carrier reports it undelivered (twice: callbacks are retried); no clock movement needed.
    const report = [{ phone_number: "13800003001", success: false, err_code: "MK:0001", biz_id: row!.provider_message_id, out_id: row!.id, report_time: "2024-05-06 12:00:09" }];
    await channels.delivery.smsReport(report);
    await channels.delivery.smsReport(report);
    await h.engine.runUntilIdle();
    expect(smtp.mails.length).toBe(1);

    // The reader opens the fallback email (twice).
    const pixel = /src="https:\/\/wp\.example\.com(\/t\/o\/[^"]+)"/.exec(smtp.mails[0]!.html!)![1]!;
    expect(await channels.delivery.trackingHit(pixel)).toMatchObject({ status: 200 });
    await channels.delivery.trackingHit(pixel);

    const events = await query<{ node_id: string; message_status: string; seq: number }>(
      h.db.db,
      sql`select node_id, message_status, seq from journey_node_events where journey_id = ${journeyId}::uuid and kind = 'delivery' order by at, node_id, message_status`,
    );
    expect(events.map((e) => `${e.node_id}:${e.message_status}`).sort()).toEqual(["email:delivered", "email:opened", "email:sent", "sms:delivery_failed", "sms:sent"]);
    expect(events.every((e) => e.seq < 0)).toBe(true);
    const [emailRow] = await query<{ id: string }>(h.db.db, sql`select id from messages where user_id = 'rider-1' and channel = 'email'`);
    expect(events.find((e) => e.node_id === "email" && e.message_status === "opened")!.seq).toBe(deliverySeq(`${emailRow!.id}:opened`));

    const stats = await journeyStats(h.db.db, h.workspaceId, journeyId);
    expect(stats.nodes.sms!.messages).toMatchObject({ sent: 1, delivered: 0, failed: 1 });
    expect(stats.nodes.email!.messages).toMatchObject({ sent: 1, delivered: 1, opened: 1, clicked: 0, failed: 0 });
    const [wake] = await query<{ n: string }>(h.db.db, sql`select count(*)::text as n from events where user_id = 'rider-1' and name = '$message.failed'`);
    expect(wake!.n).toBe("1");
  });
});
