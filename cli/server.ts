import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
import helmet from "helmet";
import { INTERNAL_MESSAGE, logInternal } from "../app/lib/errors.server";
import type { AppServices } from "../app/services.server";
import { readiness } from "../app/lib/readiness.server";
import { createMetrics } from "./metrics";

export const serverBuildPath = resolve("build/index.js");

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Paths whose writes carry their own proof and no cookie authority, so any origin may send them:
 * the key-authenticated REST API, provider callbacks (a signed token in the path), and RFC 8058
 * one-click unsubscribe and its confirmation page (a signed token; mail clients send their own
 * Origin or "null"). Decision 0705.
 */
const SELF_AUTHENTICATED = ["/api/v1/", "/callbacks/", "/t/", "/unsubscribe/"];

/**
 * Cookie-authenticated writes must come from our own origin. SameSite=Lax already blocks most
 * cross-site requests; this also covers same-site subdomains. An Origin that is not a URL
 * ("null" from sandboxed frames and some mail clients) is another origin.
 */
function sameOriginWrites(req: express.Request, res: express.Response, next: express.NextFunction) {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS" || SELF_AUTHENTICATED.some((p) => req.path.startsWith(p))) return next();
  const origin = req.get("origin");
  if (origin && originHost(origin) !== req.get("host")) {
    res.status(403).json({ error: { code: "cross_origin", message: "Cross-origin request refused: this write must come from a Waypost page of this site." } });
    return;
  }
  next();
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

/**
 * Security headers (helmet) with a Content-Security-Policy that carries a fresh nonce per
 * response: Remix's inline hydration scripts get it through the load context (app/entry.server.tsx).
 * Styles stay 'unsafe-inline' (React Flow positions nodes with style attributes); email previews
 * may show https images. Decision 0706.
 */
function securityHeaders(): express.RequestHandler[] {
  return [
    (_req, res, next) => {
      res.locals.cspNonce = randomBytes(16).toString("base64");
      next();
    },
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", (_req, res) => `'nonce-${(res as express.Response).locals.cspNonce as string}'`],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", "data:", "blob:", "https:"],
          fontSrc: ["'self'", "data:"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      xFrameOptions: { action: "deny" },
      referrerPolicy: { policy: "strict-origin-when-cross-origin" },
    }),
    // The open pixel is loaded by mail clients and webmail pages of other origins.
    (req, res, next) => {
      if (req.path.startsWith("/t/o/")) res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
      next();
    },
  ];
}

/**
 * What Express itself fails on (a URL whose %-escapes do not decode, a middleware that throws)
 * answers JSON like the API: the client's mistakes a 4xx, ours a generic 500 with a request id.
 * Never Express's default page, which carries the stack and server paths (decision 0760).
 */
function answerErrors(services: AppServices): express.ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const declared = (error as { status?: unknown } | null)?.status;
    if (typeof declared === "number" && declared >= 400 && declared < 500) {
      const message = error instanceof URIError ? "The URL is not valid: a %-escape in it does not decode to text." : "The request could not be read.";
      res.status(declared).json({ error: { code: "bad_request", message } });
      return;
    }
    const requestId = logInternal(services.log, `http ${req.method}`, error, { path: req.originalUrl.slice(0, 200) });
    res.status(500).json({ error: { code: "internal", message: `${INTERNAL_MESSAGE} ${requestId}.`, requestId } });
  };
}

/**
 * A page address carrying the NUL character (%00) is refused here: no stored id or search can
 * contain it (PostgreSQL cannot hold it), and a page loader would meet it as a database error, a
 * 500. The API under /api/ answers such input itself, naming the field (decision 0760).
 */
function refuseNulInPages(req: express.Request, res: express.Response, next: express.NextFunction) {
  if (req.path.startsWith("/api/") || !/%00/i.test(req.originalUrl)) return next();
  res.status(400).type("text/plain; charset=utf-8").send("This address contains the NUL character (%00); no page can show that.");
}

export async function startServer(services: AppServices, options: { port: number; host?: string }): Promise<RunningServer> {
  if (!existsSync(serverBuildPath)) {
    throw new Error(`No server build at ${serverBuildPath}. Run "npm run build" first (npm start does this for you).`);
  }
  const build = (await import(pathToFileURL(serverBuildPath).href)) as ServerBuild;
  const app = express();
  app.disable("x-powered-by");
  // Behind a TLS-terminating proxy, X-Forwarded-Proto tells Remix (and the Secure cookie flag) about https.
  app.set("trust proxy", true);

  const metrics = createMetrics(services);
  app.use(metrics.countRequests);
  app.use(securityHeaders());
  app.get("/metrics", metrics.handler);

  app.get("/healthz", (_req, res) => {
    res.json({
      status: "ok",
      engine: services.config.WAYPOST_ENGINE,
      database: services.database.kind,
      time: services.now().toISOString(),
    });
  });

  // Readiness: database reachable, migrations current, engine lag under its threshold (docs/operations.md).
  app.get("/readyz", (_req, res) => {
    readiness(services)
      .then((result) => res.status(result.ready ? 200 : 503).set("cache-control", "no-store").json({ status: result.ready ? "ready" : "not_ready", ...result.checks }))
      .catch((error: unknown) => res.status(503).json({ status: "not_ready", error: error instanceof Error ? error.message : String(error) }));
  });

  app.use("/build", express.static("public/build", { immutable: true, maxAge: "1y" }));
  app.use(express.static("public", { maxAge: "1h" }));
  app.use(sameOriginWrites);
  app.use(refuseNulInPages);
  app.all("*", createRequestHandler({
      build,
      // Production unless told otherwise: Remix then answers errors without stacks or server paths.
      mode: services.config.NODE_ENV,
      getLoadContext: (req, res) => ({ services, peerAddress: req.socket.remoteAddress, cspNonce: res.locals.cspNonce as string }),
    }),);
  app.use(answerErrors(services));

  const server = app.listen(options.port, options.host ?? "0.0.0.0");
  await new Promise<void>((ok, fail) => {
    server.once("listening", ok);
    server.once("error", fail);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
