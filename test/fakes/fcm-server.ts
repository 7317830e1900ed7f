/**
 * A loopback HTTPS server impersonating FCM HTTP v1 (`POST /v1/projects/{id}/messages:send`), so
 * the real firebase-admin client can be tested on the wire. It holds a self-signed certificate for
 * fcm.googleapis.com; `agent()` gives the https.Agent that routes the client here and trusts it.
 *
 * Answers mirror FCM's documented error bodies (google.rpc.Status with an FcmError detail).
 */
import { createServer, Agent, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:tls";
import type { AddressInfo, Socket } from "node:net";
import selfsigned from "selfsigned";

export type FcmFault = "unregistered" | "invalid_argument" | "quota_exceeded" | "unavailable" | "hang" | "sender_id_mismatch";

export interface FcmRecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: { validate_only?: boolean; message: FcmWireMessage };
}

export interface FcmWireMessage {
  token?: string;
  notification?: { title?: string; body?: string };
  data?: Record<string, string>;
  android?: { priority?: string; ttl?: string; collapse_key?: string; notification?: Record<string, unknown> };
  apns?: { headers?: Record<string, string>; payload?: Record<string, unknown> };
  fcm_options?: Record<string, unknown>;
}

export interface FcmFake {
  port: number;
  /** PEM of the self-signed certificate, to trust it. */
  ca: string;
  /** An agent that sends every request for fcm.googleapis.com to this server. */
  agent(): Agent;
  /** Every request, in arrival order, exactly as received. */
  requests: FcmRecordedRequest[];
  /** Messages a device would have shown: repeats of an idempotency key are collapsed. */
  delivered: FcmWireMessage[];
  /** Tokens that always fail (an uninstalled app, a malformed token). */
  tokenFaults: Map<string, FcmFault>;
  /** The next N requests fail with these faults, whatever their token. */
  queueFaults(...faults: FcmFault[]): void;
  /** Answers every hung request with success (what FCM does when it was only slow). */
  releaseHung(): void;
  close(): Promise<void>;
}

let cached: { key: string; cert: string } | undefined;
/** One certificate per process: RSA generation in pure JS takes a moment. */
function certificate(): { key: string; cert: string } {
  cached ??= (() => {
    const pems = selfsigned.generate([{ name: "commonName", value: "fcm.googleapis.com" }], {
      days: 30,
      keySize: 2048,
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: "fcm.googleapis.com" }] }],
    });
    return { key: pems.private, cert: pems.cert };
  })();
  return cached;
}

const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

function errorBody(fault: Exclude<FcmFault, "hang">): { status: number; body: unknown; headers?: Record<string, string> } {
  const wrap = (code: number, status: string, message: string, errorCode: string) => ({
    error: { code, message, status, details: [{ "@type": FCM_ERROR, errorCode }] },
  });
  switch (fault) {
    case "unregistered":
      return { status: 404, body: wrap(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED") };
    case "invalid_argument":
      return {
        status: 400,
        body: wrap(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT"),
      };
    case "quota_exceeded":
      return {
        status: 429,
        headers: { "retry-after": "30" },
        body: wrap(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.", "QUOTA_EXCEEDED"),
      };
    case "unavailable":
      return { status: 503, body: wrap(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE") };
    case "sender_id_mismatch":
      return { status: 403, body: wrap(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH") };
  }
}

/** The per-message key a device de-duplicates on: apns-collapse-id on iOS, our data id otherwise. */
function dedupKey(message: FcmWireMessage): string | undefined {
  const id = message.apns?.headers?.["apns-collapse-id"] ?? message.data?.wp_mid;
  return id ? `${message.token}|${id}` : undefined;
}

export async function startFcmFake(): Promise<FcmFake> {
  const { key, cert } = certificate();
  const requests: FcmRecordedRequest[] = [];
  const delivered: FcmWireMessage[] = [];
  const names = new Map<string, string>();
  const tokenFaults = new Map<string, FcmFault>();
  const queued: FcmFault[] = [];
  const hung: Array<() => void> = [];
  let counter = 0;

  const respond = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
    res.end(JSON.stringify(body));
  };

  const succeed = (res: ServerResponse, project: string, message: FcmWireMessage) => {
    const k = dedupKey(message);
    let name = k ? names.get(k) : undefined;
    if (!name) {
      name = `projects/${project}/messages/0:${Date.now()}%${(++counter).toString(16).padStart(8, "0")}`;
      if (k) names.set(k, name);
      delivered.push(message);
    }
    respond(res, 200, { name });
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? "");
      if (req.method !== "POST" || !match) return respond(res, 404, { error: { code: 404, status: "NOT_FOUND", message: "Not Found" } });
      if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
        return respond(res, 401, { error: { code: 401, status: "UNAUTHENTICATED", message: "Request is missing required authentication credential." } });
      }
      let body: FcmRecordedRequest["body"];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return respond(res, 400, { error: { code: 400, status: "INVALID_ARGUMENT", message: "Invalid JSON payload received." } });
      }
      requests.push({ method: req.method, path: req.url!, headers: req.headers, body });
      const message = body.message;
      const fault = queued.shift() ?? (message.token ? tokenFaults.get(message.token) : undefined);
      if (fault === "hang") {
        hung.push(() => succeed(res, match[1]!, message));
        return;
      }
      if (fault) {
        const e = errorBody(fault);
        return respond(res, e.status, e.body, e.headers);
      }
      if (!message.token) return respond(res, 400, errorBody("invalid_argument").body);
      if (body.validate_only) return respond(res, 200, { name: `projects/${match[1]}/messages/fake_validate_only` });
      succeed(res, match[1]!, message);
    });
  });
  // A hung request must not keep close() waiting forever.
  const sockets = new Set<Socket>();
  server.on("secureConnection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    ca: cert,
    agent() {
      const agent = new Agent({ keepAlive: true, maxSockets: 64 });
      // Whatever host the client asks for, open TLS to us and verify our cert as fcm.googleapis.com.
      (agent as unknown as { createConnection: (o: unknown, cb: unknown) => unknown }).createConnection = () =>
        connect({ host: "127.0.0.1", port, servername: "fcm.googleapis.com", ca: cert });
      return agent;
    },
    requests,
    delivered,
    tokenFaults,
    queueFaults: (...faults) => queued.push(...faults),
    releaseHung: () => hung.splice(0).forEach((answer) => answer()),
    close: async () => {
      hung.length = 0;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
