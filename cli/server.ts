import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
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
 * Cookie-authenticated writes must come from our own origin. SameSite=Lax already blocks most
 * cross-site requests; this also covers same-site subdomains. The key-authenticated REST API
 * (/api/v1) carries no cookies and is exempt.
 */
function sameOriginWrites(req: express.Request, res: express.Response, next: express.NextFunction) {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS" || req.path.startsWith("/api/v1/")) return next();
  const origin = req.get("origin");
  if (origin && new URL(origin).host !== req.get("host")) {
    res.status(403).json({ error: { code: "cross_origin", message: "Cross-origin request refused." } });
    return;
  }
  next();
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
  app.all("*", createRequestHandler({ build, getLoadContext: (req) => ({ services, peerAddress: req.socket.remoteAddress }) }));
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
