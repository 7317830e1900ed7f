import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDestinationAllowed, guardedFetch, OutboundLimitError, OutboundRefusedError, parseAllowlist, resolveAllowed } from "./outbound.server";

// Real HTTP servers on loopback. The "allowed" one listens on 127.0.0.2 (Linux routes all of
// 127/8 to lo) so a test can allowlist it without also allowlisting 127.0.0.1.
let allowed: Server;
let allowedPort: number;
let forbidden: Server;
let forbiddenPort: number;
const forbiddenHits: string[] = [];
const allowedHits: Array<{ url: string; headers: Record<string, string | string[] | undefined>; method: string }> = [];

const listen = (server: Server, host: string) => new Promise<number>((ok) => server.listen(0, host, () => ok((server.address() as AddressInfo).port)));

beforeAll(async () => {
  forbidden = createServer((req, res) => {
    forbiddenHits.push(`${req.method} ${req.url}`);
    res.end("internal secret");
  });
  forbiddenPort = await listen(forbidden, "127.0.0.1");
  allowed = createServer((req, res) => {
    allowedHits.push({ url: req.url ?? "", headers: req.headers, method: req.method ?? "" });
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/to") {
      res.writeHead(Number(url.searchParams.get("status") ?? 302), { Location: url.searchParams.get("location")! });
      res.end();
    } else if (url.pathname === "/big") {
      res.write("x".repeat(5000));
      res.end("x".repeat(5000));
    } else if (url.pathname === "/slow") {
      setTimeout(() => res.end("late"), 2_000).unref();
    } else {
      res.end("ok");
    }
  });
  allowedPort = await listen(allowed, "127.0.0.2");
});

afterAll(async () => {
  forbidden.closeAllConnections();
  allowed.closeAllConnections();
  await Promise.all([new Promise((ok) => forbidden.close(ok)), new Promise((ok) => allowed.close(ok))]);
  // Nothing in this file may ever reach the forbidden listener.
  expect(forbiddenHits).toEqual([]);
});

const allow = parseAllowlist("127.0.0.2");
const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as OutboundRefusedError;
  }
  throw new Error("was not refused");
};

describe("destination checks", () => {
  // Every notation of the blocked ranges; the URL parser and ipaddr.js see through them.
  it.each([
    ["127.0.0.1", "loopback"],
    ["2130706433", "loopback"],
    ["0x7f000001", "loopback"],
    ["0x7f.1", "loopback"],
    ["127.1", "loopback"],
    ["0177.0.0.1", "loopback"],
    ["[::1]", "loopback"],
    ["::1", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0", "unspecified"],
    ["[::]", "unspecified"],
    ["[::ffff:127.0.0.1]", "ipv4Mapped"],
    ["[::ffff:7f00:1]", "ipv4Mapped"],
    ["[::127.0.0.1]", "ipv4Compatible"],
    ["[::7f00:1]", "ipv4Compatible"],
    ["[100::1]", "discard"],
    ["[64:ff9b::7f00:1]", "rfc6052"],
    ["[2002:7f00:1::]", "6to4"],
    ["[2001::1]", "teredo"],
    ["10.0.0.1", "private"],
    ["172.16.5.4", "private"],
    ["192.168.1.1", "private"],
    ["[fd00::1]", "uniqueLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["100.100.100.200", "carrierGradeNat"],
    ["169.254.169.254", "linkLocal"],
    ["[fe80::1]", "linkLocal"],
    ["224.0.0.1", "multicast"],
    ["[ff02::1]", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["198.18.0.1", "reserved"],
  ])("refuses %s (%s)", async (host, range) => {
    const error = await refusal(resolveAllowed(host));
    expect(error).toBeInstanceOf(OutboundRefusedError);
    expect(error.code).toBe("destination_refused");
    expect(error.address?.range).toBe(range);
    expect(error.message).toContain("WAYPOST_OUTBOUND_ALLOW");
  });

  it.each(["localhost", "localhost.", "LOCALHOST", "api.localhost", "metadata.google.internal", "metadata.google.internal.", "metadata.goog"])(
    "refuses the name %s before resolving it",
    async (host) => {
      let resolved = false;
      const error = await refusal(resolveAllowed(host, { lookup: async () => ((resolved = true), [{ address: "93.184.216.34", family: 4 }]) }));
      expect(error.reason).toBe("blocked_name");
      expect(resolved).toBe(false);
    },
  );

  it("checks every address a name resolves to", async () => {
    const to = (...addresses: string[]) => ({ lookup: async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })) });
    expect(await resolveAllowed("api.example.com", to("93.184.216.34"))).toEqual([{ address: "93.184.216.34", family: 4 }]);
    expect((await refusal(resolveAllowed("evil.example.com", to("127.0.0.1")))).message).toMatch(/"evil.example.com" resolves to 127.0.0.1, a loopback address/);
    // One bad address among good ones is enough: the connection could pick it.
    expect((await refusal(resolveAllowed("mixed.example.com", to("93.184.216.34", "10.1.2.3")))).address?.range).toBe("private");
    expect((await refusal(resolveAllowed("v6.example.com", to("::ffff:169.254.169.254")))).message).toContain("169.254.169.254");
    // Not resolving is a (retryable) network failure, not a refusal.
    const gone = await refusal(resolveAllowed("gone.example.com", { lookup: () => Promise.reject(Object.assign(new Error("x"), { code: "ENOTFOUND" })) }));
    expect(gone.code).toBe("ENOTFOUND");
  });

  it("opens only what the allowlist names", async () => {
    const list = parseAllowlist("billing.internal, *.corp.example, 10.20.0.0/16, fd00::7, 127.0.0.2");
    const resolvesTo = (address: string) => ({ allow: list, lookup: async () => [{ address, family: address.includes(":") ? 6 : 4 }] });
    await expect(resolveAllowed("billing.internal", resolvesTo("10.9.9.9"))).resolves.toHaveLength(1);
    await expect(resolveAllowed("crm.corp.example", resolvesTo("192.168.7.7"))).resolves.toHaveLength(1);
    await expect(resolveAllowed("10.20.3.4", { allow: list })).resolves.toHaveLength(1);
    await expect(resolveAllowed("[fd00::7]", { allow: list })).resolves.toHaveLength(1);
    await expect(resolveAllowed("[::ffff:10.20.0.1]", { allow: list })).resolves.toHaveLength(1);
    await expect(resolveAllowed("other.internal", resolvesTo("10.20.0.1"))).resolves.toHaveLength(1);
    expect((await refusal(resolveAllowed("10.21.0.1", { allow: list }))).address?.range).toBe("private");
    expect((await refusal(resolveAllowed("127.0.0.1", { allow: list }))).address?.range).toBe("loopback");
    expect((await refusal(resolveAllowed("corp.example", resolvesTo("192.168.7.7")))).address?.range).toBe("private");
  });

  it("validates allowlist entries, naming the bad ones", () => {
    expect(() => parseAllowlist("ok.example, 10.0.0.0/33, 127.1, http://x/")).toThrow(/"10.0.0.0\/33", "127.1", "http:\/\/x\/"/);
    expect(parseAllowlist(" , ").entries).toEqual([]);
  });

  it("refuses hosts a transport would read differently, and non-HTTP schemes for fetch", async () => {
    expect((await refusal(assertDestinationAllowed("smtp.example.com@127.0.0.1"))).reason).toBe("invalid_host");
    expect((await refusal(assertDestinationAllowed("a/b"))).reason).toBe("invalid_host");
    expect((await refusal(guardedFetch("file:///etc/passwd"))).reason).toBe("scheme");
    expect((await refusal(guardedFetch("ftp://93.184.216.34/"))).reason).toBe("scheme");
    expect((await refusal(guardedFetch(`http://user:pw@127.0.0.2:${allowedPort}/`, {}, { allow }))).reason).toBe("credentials_in_url");
  });
});

describe("guardedFetch", () => {
  it("calls an allowlisted destination", async () => {
    const response = await guardedFetch(`http://127.0.0.2:${allowedPort}/hello`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }, { allow });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok");
    expect(response.redirects).toBe(0);
  });

  it("refuses loopback without an allowlist entry, before sending anything", async () => {
    const error = await refusal(guardedFetch(`http://127.0.0.1:${forbiddenPort}/`, {}, { allow }));
    expect(error.address).toEqual({ ip: "127.0.0.1", range: "loopback" });
  });

  it("connects to the address it checked: a name that re-resolves to loopback is refused (DNS rebinding)", async () => {
    let calls = 0;
    // First answer (the check) is public; every later one (the connection) is loopback.
    const lookup = async () => [{ address: calls++ === 0 ? "93.184.216.34" : "127.0.0.1", family: 4 }];
    const error = await refusal(guardedFetch(`http://rebind.example:${forbiddenPort}/`, {}, { lookup }));
    expect(error.code).toBe("destination_refused");
    expect(error.address?.ip).toBe("127.0.0.1");
    expect(calls).toBe(2);
    // Control: the same lookup path does carry the connection when the answer is allowed.
    const response = await guardedFetch(`http://pinned.example:${allowedPort}/pinned`, {}, { allow, lookup: async () => [{ address: "127.0.0.2", family: 4 }] });
    expect(await response.text()).toBe("ok");
    expect(allowedHits.at(-1)?.headers.host).toBe(`pinned.example:${allowedPort}`);
  });

  it("checks every redirect hop and drops credentials and custom headers when the origin changes", async () => {
    const into = `http://127.0.0.1:${forbiddenPort}/admin`;
    for (const location of [into, `http://localhost:${forbiddenPort}/`, `http://2130706433:${forbiddenPort}/`, `http://[::ffff:127.0.0.1]:${forbiddenPort}/`]) {
      const error = await refusal(guardedFetch(`http://127.0.0.2:${allowedPort}/to?location=${encodeURIComponent(location)}`, { headers: { authorization: "Bearer s" } }, { allow }));
      expect(error.code).toBe("destination_refused");
    }
    const same = await guardedFetch(`http://127.0.0.2:${allowedPort}/to?location=/landed`, { headers: { authorization: "Bearer s", "x-api-key": "k" } }, { allow });
    expect(same.finalUrl).toBe(`http://127.0.0.2:${allowedPort}/landed`);
    expect(allowedHits.at(-1)?.headers).toMatchObject({ authorization: "Bearer s", "x-api-key": "k" });
    // Another origin (same address, other port counts as another origin): credentials stay behind.
    const list = parseAllowlist("127.0.0.2, pinned.example");
    const other = await guardedFetch(
      `http://127.0.0.2:${allowedPort}/to?status=307&location=${encodeURIComponent(`http://pinned.example:${allowedPort}/other`)}`,
      { method: "POST", body: "b", headers: { authorization: "Bearer s", cookie: "c=1", "x-api-key": "k", "content-type": "text/plain", "idempotency-key": "i" } },
      { allow: list, lookup: async () => [{ address: "127.0.0.2", family: 4 }] },
    );
    expect(other.status).toBe(200);
    const last = allowedHits.at(-1)!;
    expect(last.method).toBe("POST");
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers.cookie).toBeUndefined();
    expect(last.headers["x-api-key"]).toBeUndefined();
    expect(last.headers["idempotency-key"]).toBe("i");
  });

  it("limits redirect hops, response size and time", async () => {
    const loop = `http://127.0.0.2:${allowedPort}/to?location=${encodeURIComponent(`/to?location=/to`)}`;
    expect((await refusal(guardedFetch(loop, {}, { allow, maxRedirects: 1 }))).reason).toBe("too_many_redirects");
    expect((await refusal(guardedFetch(`http://127.0.0.2:${allowedPort}/to?location=/x`, {}, { allow, maxRedirects: 0 }))).reason).toBe("too_many_redirects");
    await expect(guardedFetch(`http://127.0.0.2:${allowedPort}/big`, {}, { allow, maxResponseBytes: 4096 })).rejects.toMatchObject({ code: "response_too_large" });
    const slow = guardedFetch(`http://127.0.0.2:${allowedPort}/slow`, {}, { allow, timeoutMs: 200 });
    await expect(slow).rejects.toBeInstanceOf(OutboundLimitError);
    await expect(slow).rejects.toMatchObject({ code: "timeout" });
  });
});
