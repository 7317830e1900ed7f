/**
 * The outbound-request guard: every request whose destination a user can influence (webhook
 * node, custom nodes' fetch, provider endpoints, test sends) goes through here.
 *
 * - Names are resolved first and every address checked: loopback, private, link-local, CGNAT,
 *   multicast, unspecified, broadcast/reserved, IPv4-mapped/compatible IPv6, NAT64, 6to4, Teredo
 *   and cloud metadata names are refused, in every notation (the WHATWG URL parser turns
 *   `2130706433`, `0x7f000001`, `127.1` and `0177.0.0.1` into 127.0.0.1 before we look).
 * - The connection goes to the address that was checked: the HTTP agent's `lookup` is this
 *   module's, so a name that re-resolves to another address between check and connect (DNS
 *   rebinding) is refused on the connection itself.
 * - Redirects are followed by hand, each hop checked again, at most `maxRedirects`; credentials
 *   and custom headers are dropped when a redirect leaves the origin.
 * - Time and response-size limits cover the whole exchange, redirects and body included.
 * - An explicit allowlist (WAYPOST_OUTBOUND_ALLOW: host names, `*.suffix`, IPs, CIDRs) opens
 *   internal destinations for deployments that must call them.
 *
 * Runtime layer: no imports from app/. The app passes its allowlist in.
 */
import { lookup as dnsLookup } from "node:dns";
import type { LookupAddress } from "node:dns";
import ipaddr from "ipaddr.js";
import { Agent, fetch as undiciFetch, Headers, Response } from "undici";

/** Why a destination was refused; `allowlisted` never appears (it is the way out). */
export type RefusalReason =
  | "scheme"
  | "credentials_in_url"
  | "invalid_host"
  | "blocked_name"
  | "blocked_address"
  | "too_many_redirects";

/**
 * A request the guard would not make. Permanent: the same destination is refused again, so
 * callers must not retry it. `code` (not `instanceof`) identifies it across bundles.
 */
export class OutboundRefusedError extends Error {
  readonly code = "destination_refused" as const;
  constructor(
    readonly reason: RefusalReason,
    /** The host as given (after normalisation), for the operator. */
    readonly host: string,
    message: string,
    /** The address that was refused and its range name (loopback, private, linkLocal...). */
    readonly address?: { ip: string; range: string },
  ) {
    super(message);
    this.name = "OutboundRefusedError";
  }
}

/** The exchange went over a limit (time or response size); the request may have reached the other side. */
export class OutboundLimitError extends Error {
  constructor(
    readonly code: "timeout" | "response_too_large",
    message: string,
  ) {
    super(message);
    this.name = "OutboundLimitError";
  }
}

export function isOutboundRefusal(error: unknown): error is OutboundRefusedError {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "destination_refused";
}

/** Finds a refusal anywhere in an error's cause chain (undici wraps connect errors in TypeError). */
function refusalIn(error: unknown): OutboundRefusedError | null {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isOutboundRefusal(e)) return e;
  }
  return null;
}

export const ALLOWLIST_SETTING = "WAYPOST_OUTBOUND_ALLOW";

// ------------------------------------------------------------------ the allowlist

type AllowEntry = { kind: "name"; name: string } | { kind: "suffix"; suffix: string } | { kind: "cidr"; range: [ipaddr.IPv4 | ipaddr.IPv6, number]; text: string };

/** A parsed allowlist; build once with `parseAllowlist` and share. */
export interface OutboundAllowlist {
  readonly entries: readonly AllowEntry[];
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Parses allowlist entries: `billing.internal` (that name), `*.corp.example` (any name under it),
 * `10.0.0.7` / `fd00::7` (that address), `10.20.0.0/16` / `fd00::/8` (that range). Throws naming
 * each bad entry (config validation shows the message).
 */
export function parseAllowlist(input: string | readonly string[] | undefined): OutboundAllowlist {
  const raw = typeof input === "string" ? input.split(/[\s,]+/) : (input ?? []);
  const entries: AllowEntry[] = [];
  const bad: string[] = [];
  for (const item of raw.map((s) => s.trim()).filter(Boolean)) {
    const lower = item.toLowerCase().replace(/\.$/, "");
    const bare = lower.replace(/^\[(.*)\]$/, "$1");
    if (bare.includes("/")) {
      try {
        const range = ipaddr.parseCIDR(bare);
        entries.push({ kind: "cidr", range: [unwrap(range[0]), range[0].kind() === "ipv6" && unwrap(range[0]).kind() === "ipv4" ? Math.max(0, range[1] - 96) : range[1]], text: item });
      } catch {
        bad.push(item);
      }
    } else if (ipaddr.isValid(bare) && strictIp(bare)) {
      const ip = unwrap(ipaddr.parse(bare));
      entries.push({ kind: "cidr", range: [ip, ip.kind() === "ipv4" ? 32 : 128], text: item });
    } else if (lower.startsWith("*.") && HOSTNAME.test(lower.slice(2))) {
      entries.push({ kind: "suffix", suffix: lower.slice(1) });
    } else if (HOSTNAME.test(lower) && !/^[0-9.]+$/.test(lower) && !/^0x/.test(lower)) {
      entries.push({ kind: "name", name: lower });
    } else {
      bad.push(item);
    }
  }
  if (bad.length) {
    throw new Error(
      `not a host name, *.suffix, IP address or CIDR range: ${bad.map((b) => JSON.stringify(b)).join(", ")} (example: "billing.internal,*.corp.example,10.20.0.0/16")`,
    );
  }
  return { entries };
}

/** Only canonical dotted-quad IPv4 (and any IPv6) in the allowlist: `127.1` there is a typo, not a wish. */
function strictIp(text: string): boolean {
  return text.includes(":") || ipaddr.IPv4.isValidFourPartDecimal(text);
}

function unwrap(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

function nameAllowed(allow: OutboundAllowlist, host: string): boolean {
  return allow.entries.some((e) => (e.kind === "name" ? e.name === host : e.kind === "suffix" ? host.endsWith(e.suffix) : false));
}

function addressAllowed(allow: OutboundAllowlist, ip: ipaddr.IPv4 | ipaddr.IPv6): string | null {
  for (const e of allow.entries) {
    if (e.kind !== "cidr") continue;
    const candidate = unwrap(ip);
    if (candidate.kind() === e.range[0].kind() && candidate.match(e.range as [ipaddr.IPv4, number])) return e.text;
  }
  return null;
}

// ------------------------------------------------------------------ the checks

/** Names that lead to the machine itself or to a cloud's instance metadata, whatever they resolve to. */
const BLOCKED_NAMES = new Set(["localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"]);

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3") as [ipaddr.IPv6, number];
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96") as [ipaddr.IPv6, number];

/**
 * ipaddr.js's range name, narrowed: only ordinary public unicast addresses ("unicast") are called
 * without an allowlist entry. IPv6 must also be inside 2000::/3 (the only global unicast space
 * allocated); ::a.b.c.d (IPv4-compatible, deprecated) has no range name of its own there.
 */
function rangeOf(ip: ipaddr.IPv4 | ipaddr.IPv6): string {
  const range = ip.range();
  if (range !== "unicast" || ip.kind() === "ipv4") return range;
  const v6 = ip as ipaddr.IPv6;
  if (v6.match(IPV4_COMPATIBLE)) return "ipv4Compatible";
  return v6.match(GLOBAL_UNICAST_V6) ? "unicast" : "reserved";
}

const hint = `If this deployment must call an internal service, add its host or address range to ${ALLOWLIST_SETTING} (comma-separated host names, *.suffix, IPs or CIDRs).`;

function refuseAddress(host: string, ip: ipaddr.IPv4 | ipaddr.IPv6, range: string, viaName: boolean): OutboundRefusedError {
  const what = RANGE_WORDS[range] ?? `a non-public (${range}) address`;
  const shown = ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? `${ip.toString()} (${(ip as ipaddr.IPv6).toIPv4Address().toString()})` : ip.toString();
  const where = viaName ? `"${host}" resolves to ${shown}, ${what}` : `${shown} is ${what}`;
  return new OutboundRefusedError("blocked_address", host, `Destination refused: ${where}. Waypost only calls public internet addresses. ${hint}`, { ip: ip.toString(), range });
}

const RANGE_WORDS: Record<string, string> = {
  loopback: "a loopback address (this machine)",
  private: "a private network address",
  uniqueLocal: "a private network address (IPv6 unique local)",
  linkLocal: "a link-local address (cloud metadata services live here)",
  carrierGradeNat: "a carrier-grade NAT / cloud-internal address (Alibaba Cloud metadata lives here)",
  multicast: "a multicast address",
  unspecified: "the unspecified address (this machine)",
  broadcast: "the broadcast address",
  reserved: "a reserved address",
  ipv4Mapped: "an IPv4-mapped IPv6 address",
  ipv4Compatible: "an IPv4-compatible IPv6 address",
  rfc6145: "an IPv4-translated IPv6 address",
  rfc6052: "a NAT64 address (it reaches an IPv4 address through a translator)",
  "6to4": "a 6to4 address (it reaches an IPv4 address through a relay)",
  teredo: "a Teredo tunnel address",
};

export interface DestinationPolicy {
  /** Parsed WAYPOST_OUTBOUND_ALLOW (or a test's explicit entries). Empty: public addresses only. */
  allow?: OutboundAllowlist;
  /** For tests of the resolver path: `dns.lookup` by default. */
  lookup?: (host: string) => Promise<LookupAddress[]>;
}

/**
 * Normalises a host the way a connection would read it: WHATWG host parsing (so `2130706433`,
 * `0x7f000001`, `127.1` and `0177.0.0.1` become 127.0.0.1), brackets and trailing dots removed,
 * lower case. Throws a refusal for anything that is not a host.
 */
export function normaliseHost(hostOrUrl: string): string {
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(hostOrUrl);
  // A bare host may only hold host characters: `a@b` or `a/b` would be read differently by the transport.
  if (!isUrl && !/^[a-z0-9._:[\]%-]+$/i.test(hostOrUrl)) {
    throw new OutboundRefusedError("invalid_host", hostOrUrl, `Destination refused: "${hostOrUrl}" is not a valid host name or address.`);
  }
  let hostname: string;
  try {
    hostname = new URL(isUrl ? hostOrUrl : `http://${ipaddr.IPv6.isValid(hostOrUrl) ? `[${hostOrUrl}]` : hostOrUrl}/`).hostname;
  } catch {
    throw new OutboundRefusedError("invalid_host", hostOrUrl, `Destination refused: "${hostOrUrl}" is not a valid host name or address.`);
  }
  const host = hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.+$/, "").toLowerCase();
  if (!host) throw new OutboundRefusedError("invalid_host", hostOrUrl, `Destination refused: "${hostOrUrl}" has no host.`);
  return host;
}

const defaultLookup = (host: string) =>
  new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/**
 * Resolves a host and checks every address it resolves to; answers the addresses to connect to.
 * A name that resolves to several addresses is refused when any of them is refused (the
 * connection could pick that one).
 */
export async function resolveAllowed(hostOrUrl: string, policy: DestinationPolicy = {}): Promise<LookupAddress[]> {
  const host = normaliseHost(hostOrUrl);
  const allow = policy.allow ?? EMPTY_ALLOWLIST;
  if (ipaddr.isValid(host)) {
    const ip = ipaddr.parse(host);
    checkAddress(host, ip, allow, false);
    return [{ address: ip.toString(), family: ip.kind() === "ipv4" ? 4 : 6 }];
  }
  const byName = nameAllowed(allow, host);
  if (!byName && (BLOCKED_NAMES.has(host) || host.endsWith(".localhost"))) {
    throw new OutboundRefusedError("blocked_name", host, `Destination refused: "${host}" names this machine or a cloud metadata service. ${hint}`);
  }
  // A name that does not resolve is a network failure, not a refusal: DNS outages pass, so callers
  // may retry (the error keeps the resolver's code, ENOTFOUND / EAI_AGAIN).
  const addresses = await (policy.lookup ?? defaultLookup)(host);
  if (!addresses.length) throw Object.assign(new Error(`"${host}" resolves to no address`), { code: "ENOTFOUND" });
  if (!byName) for (const a of addresses) checkAddress(host, ipaddr.parse(a.address), allow, true);
  return addresses;
}

function checkAddress(host: string, ip: ipaddr.IPv4 | ipaddr.IPv6, allow: OutboundAllowlist, viaName: boolean): void {
  if (addressAllowed(allow, ip)) return;
  const range = rangeOf(ip);
  if (range !== "unicast") throw refuseAddress(host, ip, range, viaName);
}

/**
 * For transports that are not HTTP (SMTP, SDK clients): throws an OutboundRefusedError when the
 * host (or URL) may not be called; answers the checked addresses. Where the transport resolves the
 * name again itself, connect to one of the answered addresses to leave no rebinding gap.
 */
export async function assertDestinationAllowed(hostOrUrl: string, policy: DestinationPolicy = {}): Promise<LookupAddress[]> {
  return resolveAllowed(hostOrUrl, policy);
}

const EMPTY_ALLOWLIST: OutboundAllowlist = { entries: [] };

/**
 * A `lookup` for net/tls/undici connections that only ever hands out checked addresses: the
 * check and the connection use the same resolution.
 */
export function guardedLookup(policy: DestinationPolicy = {}) {
  return (
    hostname: string,
    options: { family?: number | string; all?: boolean } | number | undefined,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const opts = typeof options === "object" && options !== null ? options : { family: options };
    resolveAllowed(hostname, policy).then(
      (addresses) => {
        const family = opts.family === "IPv4" ? 4 : opts.family === "IPv6" ? 6 : Number(opts.family ?? 0);
        const usable = family ? addresses.filter((a) => a.family === family) : addresses;
        if (!usable.length) {
          callback(Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: "ENOTFOUND" }), opts.all ? [] : "", family);
          return;
        }
        if (opts.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, opts.all ? [] : "", 0),
    );
  };
}

// ------------------------------------------------------------------ guarded fetch

export interface GuardedFetchOptions extends DestinationPolicy {
  /** The whole exchange, redirects and body included (default 10 s). */
  timeoutMs?: number;
  /** Largest response body read (default 1 MiB); more fails with OutboundLimitError. */
  maxResponseBytes?: number;
  /** Redirect hops followed, each checked again (default 5; 0 refuses every redirect). */
  maxRedirects?: number;
}

export interface GuardedRequestInit {
  method?: string;
  headers?: Record<string, string> | Array<[string, string]>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** A fetch Response plus where it ended up. */
export type GuardedResponse = Response & { readonly finalUrl: string; readonly redirects: number };

/** Headers that may follow a redirect to another origin; everything else (credentials, custom auth) stays behind. */
const CROSS_ORIGIN_SAFE = new Set(["accept", "accept-language", "content-language", "content-type", "user-agent", "idempotency-key"]);

const agents = new WeakMap<OutboundAllowlist, Agent>();
const defaultAgentKey: OutboundAllowlist = { entries: [] };

/** One connection pool per allowlist; its lookup checks every address it connects to. */
function agentFor(policy: DestinationPolicy): Agent {
  if (policy.lookup) return new Agent({ connect: { lookup: guardedLookup(policy) as never } });
  const key = policy.allow ?? defaultAgentKey;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup({ allow: key }) as never }, keepAliveTimeout: 10_000 });
    agents.set(key, agent);
  }
  return agent;
}

function checkUrl(url: URL): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OutboundRefusedError("scheme", url.hostname, `Destination refused: only http:// and https:// addresses can be called (got ${url.protocol}//).`);
  }
  if (url.username || url.password) {
    throw new OutboundRefusedError("credentials_in_url", url.hostname, "Destination refused: the address contains a user name or password; send credentials in a header instead.");
  }
}

/**
 * fetch through the guard. Throws OutboundRefusedError (permanent: do not retry) when the
 * destination or a redirect hop is refused, OutboundLimitError on time or size limits, and
 * fetch's own errors for network failures.
 */
export async function guardedFetch(input: string | URL, init: GuardedRequestInit = {}, options: GuardedFetchOptions = {}): Promise<GuardedResponse> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 5;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  const dispatcher = agentFor(options);
  const own = dispatcher !== agents.get(options.allow ?? defaultAgentKey);

  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new OutboundRefusedError("invalid_host", String(input), `Destination refused: "${String(input)}" is not a valid URL.`);
  }
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers);
  try {
    for (let hop = 0; ; hop++) {
      checkUrl(url);
      // Checked here for a clear error before any byte is sent; the agent's lookup checks again on connect.
      await resolveAllowed(url.href, options);
      const response = await undiciFetch(url, { method, headers, body, redirect: "manual", signal, dispatcher });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location && response.status !== 304) {
        await response.body?.cancel().catch(() => undefined);
        if (hop >= maxRedirects) {
          throw new OutboundRefusedError(
            "too_many_redirects",
            url.hostname,
            maxRedirects === 0 ? "Destination refused: it answered with a redirect, and redirects are not followed here." : `Destination refused: more than ${maxRedirects} redirects.`,
          );
        }
        const next = new URL(location, url);
        if (next.origin !== url.origin) for (const name of [...headers.keys()]) if (!CROSS_ORIGIN_SAFE.has(name)) headers.delete(name);
        // Fetch's rules: 303 (and 301/302 after POST) continue as GET without the body.
        if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
          method = "GET";
          body = undefined;
          headers.delete("content-type");
        }
        url = next;
        continue;
      }
      const bytes = await readLimited(response, maxBytes);
      const noBody = response.status === 204 || response.status === 205 || response.status === 304 || method === "HEAD";
      const result = new Response(noBody ? null : bytes, { status: response.status, statusText: response.statusText, headers: response.headers }) as GuardedResponse;
      Object.defineProperties(result, { finalUrl: { value: url.href }, redirects: { value: hop } });
      return result;
    }
  } catch (error) {
    const refusal = refusalIn(error);
    if (refusal) throw refusal;
    if (error instanceof OutboundLimitError) throw error;
    if (timeout.aborted && !init.signal?.aborted) throw new OutboundLimitError("timeout", `No complete answer within ${timeoutMs} ms.`);
    throw error;
  } finally {
    if (own) void dispatcher.close();
  }
}

async function readLimited(response: Awaited<ReturnType<typeof undiciFetch>>, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new OutboundLimitError("response_too_large", `The answer is larger than ${maxBytes} bytes.`);
  }
  if (!response.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new OutboundLimitError("response_too_large", `The answer is larger than ${maxBytes} bytes.`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The runtime's FetchLike (nodes/runtime.ts) backed by the guard, for ActionServices.fetch:
 * build once per allowlist.
 */
export function createGuardedFetch(options: GuardedFetchOptions = {}) {
  // The caller's signal (the webhook's own timeout, up to 30 s) usually ends the request first.
  options = { timeoutMs: 30_000, ...options };
  return (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) =>
    guardedFetch(url, init, options);
}
