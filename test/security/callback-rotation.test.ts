import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aliyunReplies, aliyunReport, emailBounce } from "../../app/channels/http.server";
import type { SessionInfo } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { query } from "../../db/client";
import { startTestApp, type TestApp } from "../support/app";

/**
 * Rotatable provider callback tokens (issue 13, decision 0704): rotating gives new callback URLs
 * and the old ones answer 403 at once, for every callback (SMS reports, SMS replies, bounces).
 */
let app: TestApp;
const sessions: Record<"developer" | "marketer", SessionInfo> = {} as never;
const as = (role: keyof typeof sessions) => createCallerFactory(appRouter)({ services: app.services, session: sessions[role] }).channels;

const tokenOf = (url: string) => url.split("/").at(-2)!;
const post = (body: string) => new Request("http://waypost.test/callback", { method: "POST", body, headers: { "content-type": "application/json" } });

/** Status of each callback for the three tokens of one set of URLs. */
async function statuses(urls: { smsReport: string; smsReplies: string; emailBounce: string }) {
  return [
    (await aliyunReport(app.services, post("[]"), tokenOf(urls.smsReport))).status,
    (await aliyunReplies(app.services, post("[]"), tokenOf(urls.smsReplies))).status,
    // An empty bounce body is the relay's mistake (400) — but only once the token is accepted.
    (await emailBounce(app.services, post(""), tokenOf(urls.emailBounce))).status,
  ];
}

beforeAll(async () => {
  app = await startTestApp({ env: { WAYPOST_SECRET_KEY: "rotation-test-secret-key-0123456789abcdef" } });
  for (const role of ["developer", "marketer"] as const) {
    const op = await app.addOperator(role);
    sessions[role] = { operatorId: op.id, workspaceId: app.workspaceId, email: op.email, name: role, role, locale: null };
  }
});
afterAll(async () => {
  await app?.services.channels?.close();
  await app?.close();
});

describe("callback token rotation", () => {
  it("old callback URLs stop working at once; the new ones work; marketers cannot rotate", async () => {
    const before = (await as("developer").settings({ origin: "https://wp.example.com" })).callbacks;
    expect(await statuses(before)).toEqual([200, 200, 400]);

    const rotated = (await as("developer").rotateCallbackTokens({ origin: "https://wp.example.com" })).callbacks;
    expect(rotated.smsReport).not.toBe(before.smsReport);
    expect(rotated.smsReport).toMatch(/^https:\/\/wp\.example\.com\/callbacks\/aliyun-sms\/[^/]+\/report$/);
    expect(await statuses(before)).toEqual([403, 403, 403]);
    expect(await statuses(rotated)).toEqual([200, 200, 400]);
    // The settings page shows the new URLs from now on.
    expect((await as("developer").settings({ origin: "https://wp.example.com" })).callbacks).toEqual(rotated);

    // Rotating again retires the second set too; nothing goes back to working.
    const third = (await as("developer").rotateCallbackTokens({ origin: "https://wp.example.com" })).callbacks;
    expect(await statuses(rotated)).toEqual([403, 403, 403]);
    expect(await statuses(before)).toEqual([403, 403, 403]);
    expect(await statuses(third)).toEqual([200, 200, 400]);

    const refused = await as("marketer").rotateCallbackTokens({}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect((refused as TRPCError).code).toBe("FORBIDDEN");
    expect(await statuses(third)).toEqual([200, 200, 400]);

    const audit = await query<{ action: string }>(app.services.db, sql`select action from audit_log where workspace_id = ${app.workspaceId}::uuid and action = 'channels.callbacks_rotated'`);
    expect(audit).toHaveLength(2);
  });
});
