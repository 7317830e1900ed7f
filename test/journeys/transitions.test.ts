import { sql } from "drizzle-orm";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import type { JourneyStatus } from "../../db/schema";
import { createApiKey } from "../../app/lib/auth.server";
import type { SessionInfo } from "../../app/lib/auth.server";
import { journeyTransitions, transitionAllowed, type JourneyTransition } from "../../app/lib/journey-transitions";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";

/**
 * Journey status changes are valid only from states where they mean something (issue 13, item 9):
 * every transition from every state over tRPC, and pause/resume/publish over REST, answer as
 * app/lib/journey-transitions.ts says; a refused change is a 409 naming the state and what to do,
 * and changes nothing (status, hold, audit log).
 */
describe("journey status transitions", () => {
  let app: TestApp;
  let admin: SessionInfo;
  let secret: string;
  const api = () => createCallerFactory(appRouter)({ services: app.services, session: admin }).journeys;

  beforeAll(async () => {
    app = await startTestApp();
    const a = await app.addOperator("admin", "ada@example.com");
    admin = { operatorId: a.id, workspaceId: app.workspaceId, email: a.email, name: "Ada", role: "admin", locale: null } as SessionInfo;
    secret = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "scripts" })).key;
  });
  afterAll(() => app?.close());

  /** A journey in the given state; `withDraft` adds a draft so publishing has something to publish. */
  async function journeyIn(status: JourneyStatus, withDraft: boolean): Promise<string> {
    const { id } = await api().create({ name: `In ${status}`, document: registeredNoOrderJourney() });
    if (status === "draft") return id;
    await api().publish({ id, baseRevision: 1 });
    if (status === "paused") await api().pause({ id, inside: "hold" });
    if (status === "archived") await api().archive({ id });
    if (withDraft && status !== "archived") await api().startEditing({ id });
    return id;
  }

  const snapshot = async (id: string) =>
    (await query<{ status: string; held: boolean; audits: number }>(
      app.services.db,
      sql`select status, held, (select count(*)::int from audit_log where target = ${id}) as audits from journeys where id = ${id}::uuid`,
    ))[0];

  async function attempt(id: string, transition: JourneyTransition): Promise<{ code: string; message: string }> {
    try {
      const journeys = api();
      if (transition === "publish") {
        const revision = (await journeys.get({ id })).draft?.revision ?? 1;
        await journeys.publish({ id, baseRevision: revision });
      } else await journeys[transition]({ id });
      return { code: "OK", message: "" };
    } catch (error) {
      if (error instanceof TRPCError) return { code: error.code, message: error.message };
      throw error;
    }
  }

  it("tRPC: every transition from every state is allowed exactly where the rule says, else 409 naming the state and what to do", async () => {
    const results: string[] = [];
    for (const status of ["draft", "live", "paused", "archived"] as const) {
      for (const transition of journeyTransitions) {
        const id = await journeyIn(status, transition === "publish");
        const before = await snapshot(id);
        const outcome = await attempt(id, transition);
        results.push(`${status} ${transition} -> ${outcome.code}`);
        if (transitionAllowed(transition, status)) {
          expect(outcome, `${transition} from ${status}`).toEqual({ code: "OK", message: "" });
        } else {
          expect(outcome.code, `${transition} from ${status}`).toBe("CONFLICT");
          expect(outcome.message).toContain(`Cannot ${transition} this journey: it is ${status === "draft" ? "a draft that was never published" : status}.`);
          expect(await snapshot(id)).toEqual(before);
        }
      }
    }
    console.log(results.join("\n"));
    expect(results.filter((r) => r.endsWith("CONFLICT"))).toHaveLength(10);
  });

  it("the reported case: pausing a never-published journey is refused (was 200), and resuming it says to publish, not 'no draft'", async () => {
    const id = await journeyIn("draft", false);
    const pause = await attempt(id, "pause");
    expect(pause).toEqual({ code: "CONFLICT", message: "Cannot pause this journey: it is a draft that was never published. Nobody can be inside yet: publish it first." });
    const resume = await attempt(id, "resume");
    expect(resume).toEqual({ code: "CONFLICT", message: "Cannot resume this journey: it is a draft that was never published. Publish it to make it live." });
    expect((await snapshot(id)).status).toBe("draft");
  });

  it("pausing a paused journey re-states the choice for users inside (hold -> keep running releases them)", async () => {
    const id = await journeyIn("paused", false);
    expect((await snapshot(id)).held).toBe(true);
    expect(await api().pause({ id, inside: "keep_running" })).toEqual({ held: false, holdChanged: true });
    expect(await snapshot(id)).toMatchObject({ status: "paused", held: false });
  });

  it("REST answers the same rule: 409 invalid_state with the current state, nothing changed; valid changes answer 200", async () => {
    const routes = {
      pause: await import("../../app/routes/api.v1.journeys.$journeyId.pause"),
      resume: await import("../../app/routes/api.v1.journeys.$journeyId.resume"),
      publish: await import("../../app/routes/api.v1.journeys.$journeyId.publish"),
    };
    const post = async (what: keyof typeof routes, journeyId: string) => {
      const request = new Request(`http://localhost/api/v1/journeys/${journeyId}/${what}`, {
        method: "POST",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body: "{}",
      });
      const response = await routes[what].action({ request, context: { services: app.services }, params: { journeyId } } as never);
      return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string }; status?: string } };
    };

    const draft = await journeyIn("draft", false);
    const before = await snapshot(draft);
    const paused = await post("pause", draft);
    expect(paused.status).toBe(409);
    expect(paused.body.error).toEqual({ code: "invalid_state", message: "Cannot pause this journey: it is a draft that was never published. Nobody can be inside yet: publish it first." });
    expect((await post("resume", draft)).status).toBe(409);
    expect(await snapshot(draft)).toEqual(before);

    const live = await journeyIn("live", false);
    const resumeLive = await post("resume", live);
    expect(resumeLive.status).toBe(409);
    expect(resumeLive.body.error?.message).toContain("it is live");
    expect((await post("pause", live)).body).toMatchObject({ status: "paused" });
    expect((await post("resume", live)).body).toMatchObject({ status: "live" });

    const archived = await journeyIn("archived", false);
    for (const what of ["pause", "resume", "publish"] as const) {
      const answer = await post(what, archived);
      expect(answer.status, what).toBe(409);
      expect(answer.body.error?.message, what).toContain("it is archived");
    }
    expect((await snapshot(archived)).status).toBe("archived");
  });
});
