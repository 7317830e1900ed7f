/**
 * The robot nodes against loopback servers that verify the DingTalk signature and both services'
 * message shapes (fake-robots.ts), run with `runNodeForTest` as a journey would, their requests
 * going through Waypost's outbound-request guard with an explicit allowlist for the loopback
 * fakes (as WAYPOST_OUTBOUND_ALLOW would in a deployment).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runNodeForTest } from "waypost/extension/testing";
// Inside the Waypost repository: the guard the engines give ctx.fetch. (Outside it, leave `fetch`
// out: the harness then uses the plain fetch, which reaches a loopback fake too.)
import { createGuardedFetch, parseAllowlist } from "../../../nodes/net/outbound.server";
import extension, { dingtalkRobot, wecomRobot } from "../src/index";
import { DINGTALK_MAX_BYTES, dingtalkSign } from "../src/dingtalk";
import { startDingtalkFake, startWecomFake, type RobotFake } from "./fake-robots";

const ROBOT = { accessToken: "dt-access-token-0001", secret: "SECe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", keyword: "告警" };
const WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";
const guarded = createGuardedFetch({ allow: parseAllowlist(["127.0.0.1"]) });
const user = { id: "u-1001", traits: { name: "小王", tier: "gold" } };
const journey = { id: "j-1", name: "大促召回" };

let dingtalk: RobotFake;
let wecom: RobotFake;
beforeAll(async () => {
  [dingtalk, wecom] = await Promise.all([startDingtalkFake(ROBOT), startWecomFake({ key: WECOM_KEY })]);
});
afterAll(async () => {
  await Promise.all([dingtalk?.close(), wecom?.close()]);
});

it("the package default-exports both nodes on extension API 1", () => {
  expect(extension).toMatchObject({ kind: "waypost.extension", apiVersion: 1 });
  expect(extension.nodes.map((n) => n.id)).toEqual(["robots.dingtalk", "robots.wecom"]);
  expect(dingtalkRobot.outputs.map((o) => o.id)).toEqual(["sent", "failed"]);
});

describe("DingTalk group robot", () => {
  const secrets = { accessToken: ROBOT.accessToken, secret: ROBOT.secret };

  it("signs the call (timestamp + HmacSHA256 of 'timestamp\\nsecret', base64, url-encoded) and posts the filled-in text with @s", async () => {
    const result = await runNodeForTest(
      dingtalkRobot,
      { content: "【告警】{{ user.name }}（{{ user.id }}，{{ user.tier }}）进入 {{ journey.name }}", atMobiles: ["13800138000"], baseUrl: dingtalk.baseUrl },
      user,
      { secrets, fetch: guarded, journey },
    );
    expect(result.output).toBe("sent");
    expect(dingtalk.received.at(-1)).toEqual({ msgtype: "text", text: { content: "【告警】小王（u-1001，gold）进入 大促召回" }, at: { atMobiles: ["13800138000"], isAtAll: false } });
    const query = new URL(result.requests[0]!.url).searchParams;
    expect(query.get("sign")).toBe(dingtalkSign(query.get("timestamp")!, ROBOT.secret));
  });

  it("markdown with a title", async () => {
    const result = await runNodeForTest(dingtalkRobot, { msgType: "markdown", title: "告警", content: "### 告警\n- 用户 **{{ user.id }}**", atAll: true, baseUrl: dingtalk.baseUrl }, user, { secrets, fetch: guarded });
    expect(result.output).toBe("sent");
    expect(dingtalk.received.at(-1)).toEqual({ msgtype: "markdown", markdown: { title: "告警", text: "### 告警\n- 用户 **u-1001**" }, at: { atMobiles: [], isAtAll: true } });
  });

  it("a wrong secret or a missing keyword fails for good; throttling is retried", async () => {
    const wrong = await runNodeForTest(dingtalkRobot, { content: "告警 x", baseUrl: dingtalk.baseUrl }, user, { secrets: { ...secrets, secret: "SECwrong" }, fetch: guarded });
    expect(wrong).toMatchObject({ output: "failed", detail: { reason: "robot_refused", errcode: 310000, errmsg: "sign not match" } });
    const keyword = await runNodeForTest(dingtalkRobot, { content: "no keyword here", baseUrl: dingtalk.baseUrl }, user, { secrets, fetch: guarded });
    expect(keyword).toMatchObject({ output: "failed", detail: { errcode: 310000, errmsg: "keywords not in content" } });
    dingtalk.throttleNext = 1;
    const throttled = await runNodeForTest(dingtalkRobot, { content: "告警 y", baseUrl: dingtalk.baseUrl }, user, { secrets, fetch: guarded });
    expect(throttled.retry).toMatch(/send too fast/);
    const missing = await runNodeForTest(dingtalkRobot, { content: "告警 z", baseUrl: dingtalk.baseUrl }, user, { fetch: guarded });
    expect(missing).toMatchObject({ output: "failed", detail: { reason: "not_configured", missing: "accessToken" } });
  });

  it("cuts an over-long alert to DingTalk's byte limit and says so", async () => {
    const result = await runNodeForTest(dingtalkRobot, { content: `告警${"长".repeat(8000)}`, baseUrl: dingtalk.baseUrl }, user, { secrets, fetch: guarded });
    expect(result).toMatchObject({ output: "sent", detail: { truncated: { bytes: 24_006, limit: DINGTALK_MAX_BYTES } } });
    expect(Buffer.byteLength((dingtalk.received.at(-1)!.text as { content: string }).content)).toBeLessThanOrEqual(DINGTALK_MAX_BYTES);
  });

  it("goes through the outbound guard: without an allowlist entry the loopback robot is refused and not retried", async () => {
    const result = await runNodeForTest(dingtalkRobot, { content: "告警", baseUrl: dingtalk.baseUrl }, user, { secrets, fetch: createGuardedFetch() });
    expect(result).toMatchObject({ output: "failed", detail: { reason: "destination_refused" } });
  });
});

describe("WeCom group robot", () => {
  it("posts text with @mentions to the key's webhook", async () => {
    const result = await runNodeForTest(wecomRobot, { content: "{{ user.name }} 下单失败，请跟进", mentionedMobiles: ["13800138000", "@all"], baseUrl: wecom.baseUrl }, user, { secrets: { key: WECOM_KEY }, fetch: guarded });
    expect(result.output).toBe("sent");
    expect(wecom.received.at(-1)).toEqual({ msgtype: "text", text: { content: "小王 下单失败，请跟进", mentioned_mobile_list: ["13800138000", "@all"] } });
    expect(new URL(result.requests[0]!.url).searchParams.get("key")).toBe(WECOM_KEY);
  });

  it("markdown is cut to 4,096 bytes and text to 2,048 (the fake refuses anything longer)", async () => {
    const md = await runNodeForTest(wecomRobot, { msgType: "markdown", content: `# 告警\n${"字".repeat(2000)}`, baseUrl: wecom.baseUrl }, user, { secrets: { key: WECOM_KEY }, fetch: guarded });
    expect(md).toMatchObject({ output: "sent", detail: { truncated: { limit: 4096 } } });
    const text = await runNodeForTest(wecomRobot, { content: "字".repeat(1000), baseUrl: wecom.baseUrl }, user, { secrets: { key: WECOM_KEY }, fetch: guarded });
    expect(text).toMatchObject({ output: "sent", detail: { truncated: { bytes: 3000, limit: 2048 } } });
  });

  it("a wrong key fails for good; 45009 is retried", async () => {
    const wrong = await runNodeForTest(wecomRobot, { content: "x", baseUrl: wecom.baseUrl }, user, { secrets: { key: "nope" }, fetch: guarded });
    expect(wrong).toMatchObject({ output: "failed", detail: { reason: "robot_refused", errcode: 93000 } });
    wecom.throttleNext = 1;
    const throttled = await runNodeForTest(wecomRobot, { content: "x", baseUrl: wecom.baseUrl }, user, { secrets: { key: WECOM_KEY }, fetch: guarded });
    expect(throttled.retry).toMatch(/freq/);
  });
});
