import { timingSafeEqual } from "node:crypto";
import type express from "express";
import { Counter, Gauge, Registry } from "prom-client";
import { engineHealth } from "../app/lib/instances.server";
import { analyticsTotals } from "../app/lib/analytics.server";
import type { AppServices } from "../app/services.server";

/**
 * Prometheus metrics at GET /metrics: the Instances page's engine-health numbers as gauges
 * (read from the database at scrape time, so every app process reports the same engine-wide
 * values) plus this process's HTTP request counts. Access rule: decision 0603.
 */

export interface Metrics {
  registry: Registry;
  /** Counts every request by method, route group and status class. */
  countRequests: express.RequestHandler;
  /** GET /metrics. */
  handler: express.RequestHandler;
}

/** Route groups, not paths: ids in paths would make unbounded label sets. */
function routeGroup(path: string): string {
  if (path === "/metrics") return "metrics";
  if (path === "/healthz") return "healthz";
  if (path === "/readyz") return "readyz";
  if (path.startsWith("/api/trpc")) return "trpc";
  if (path.startsWith("/api/v1/")) return "api_v1";
  if (path.startsWith("/build/") || /\.[a-z0-9]+$/i.test(path)) return "static";
  return "page";
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1].trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function createMetrics(services: AppServices): Metrics {
  // Own registry: several servers in one process (tests) must not collide in the global one.
  const registry = new Registry();
  const requests = new Counter({
    name: "waypost_http_requests_total",
    help: "HTTP requests served, by method, route group and status class.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });

  // One health query per scrape, shared by every gauge's collect().
  let pending: Promise<Awaited<ReturnType<typeof engineHealth>>> | null = null;
  const health = () => (pending ??= engineHealth(services.db, services.now().getTime()).finally(() => setTimeout(() => (pending = null), 0)));
  const gauge = (name: string, help: string, pick: (h: Awaited<ReturnType<typeof engineHealth>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(pick(await health()));
      },
    });
  gauge("waypost_engine_due_timers", "Active instances whose wake time has passed and that no worker has stepped yet.", (h) => h.dueBacklog);
  gauge("waypost_engine_oldest_due_lag_seconds", "How late the oldest due timer is.", (h) => h.oldestDueLagMs / 1000);
  gauge("waypost_engine_outbox_pending", "Side effects in the outbox not yet fed back to their instance.", (h) => h.outboxPending);
  gauge("waypost_engine_outbox_failed", "Outbox rows executed more than once (a worker lost its lease) or carrying an error.", (h) => h.outboxFailed);
  gauge("waypost_engine_steps_last_minute", "Interpreter steps in the last minute of journey time, from node events.", (h) => h.stepsLastMinute);
  gauge("waypost_engine_failures_last_hour", "Steps that failed finally in the last hour (left by failed, or ended as failed).", (h) => h.failuresLastHour);
  gauge("waypost_engine_active_instances", "Instances inside journeys now.", (h) => h.activeInstances);
  // The alert threshold beside the lag (decision 1003): alert on waypost_engine_lag_alert == 1, or compare the two.
  const threshold = services.config.WAYPOST_ENGINE_LAG_ALERT_SECONDS;
  new Gauge({ name: "waypost_engine_lag_alert_threshold_seconds", help: "Engine lag above which /readyz fails and waypost_engine_lag_alert is 1 (WAYPOST_ENGINE_LAG_ALERT_SECONDS; 0 = off).", registers: [registry] }).set(threshold);
  gauge("waypost_engine_lag_alert", "1 when the oldest due timer is later than the alert threshold, else 0.", (h) => (threshold > 0 && h.oldestDueLagMs / 1000 > threshold ? 1 : 0));

  // Totals from the analytics rollups (docs/analytics.md), read at scrape time like the gauges
  // above: every process reports the same engine-wide counts. A total can go down only when
  // users are erased (their node events are deleted).
  let totals: Promise<Awaited<ReturnType<typeof analyticsTotals>>> | null = null;
  const analytics = () => (totals ??= analyticsTotals(services.db).finally(() => setTimeout(() => (totals = null), 0)));
  new Counter({
    name: "waypost_timezone_fallbacks_total",
    help: "Steps that needed a user's time zone and found it missing or invalid (the journey's or workspace's zone was used), by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
    async collect() {
      const { tzFallbacks } = await analytics();
      this.reset();
      for (const r of tzFallbacks) if (r.n > 0) this.inc({ reason: r.reason }, r.n);
    },
  });
  new Counter({
    name: "waypost_message_failures_total",
    help: "Messages that failed, by channel and reason: refused before sending, rejected by the provider, or reported not delivered later.",
    labelNames: ["channel", "reason"] as const,
    registers: [registry],
    async collect() {
      const { failures } = await analytics();
      this.reset();
      for (const r of failures) if (r.n > 0) this.inc({ channel: r.channel || "unknown", reason: r.reason }, r.n);
    },
  });

  const countRequests: express.RequestHandler = (req, res, next) => {
    res.on("finish", () => {
      requests.inc({ method: req.method, route: routeGroup(req.path), status: `${Math.floor(res.statusCode / 100)}xx` });
    });
    next();
  };

  const handler: express.RequestHandler = (req, res) => {
    const { WAYPOST_METRICS_TOKEN: token, WAYPOST_METRICS_PUBLIC: isPublic } = services.config;
    if (!isPublic) {
      if (!token) {
        res.status(403).type("text/plain").send("Metrics are off: set WAYPOST_METRICS_TOKEN (scrape with Authorization: Bearer <token>) or WAYPOST_METRICS_PUBLIC=true.\n");
        return;
      }
      if (!tokenMatches(req.get("authorization"), token)) {
        res.status(401).set("WWW-Authenticate", 'Bearer realm="metrics"').type("text/plain").send("Bearer token required.\n");
        return;
      }
    }
    registry
      .metrics()
      .then((body) => res.type(registry.contentType).send(body))
      .catch((error: unknown) => {
        services.log.error("metrics collection failed", { error: error instanceof Error ? error.message : String(error) });
        res.status(500).type("text/plain").send("metrics collection failed\n");
      });
  };

  return { registry, countRequests, handler };
}
