import type { TemporalSettings } from "../../workflows/temporal/client";

/** The Temporal server the live suites run against (`npm test` starts one and sets this). */
export const temporalAddress = process.env.TEMPORAL_ADDRESS;

/** Connection settings from the environment the app itself reads; each suite picks its own task queues. */
export function liveTemporalSettings(): TemporalSettings {
  if (!temporalAddress) throw new Error("TEMPORAL_ADDRESS is not set");
  return {
    address: temporalAddress,
    namespace: process.env.TEMPORAL_NAMESPACE ?? "default",
    taskQueue: "unused",
    tls: process.env.TEMPORAL_TLS === "true",
    ...(process.env.TEMPORAL_TLS_CERT_PATH ? { tlsCertPath: process.env.TEMPORAL_TLS_CERT_PATH } : {}),
    ...(process.env.TEMPORAL_TLS_KEY_PATH ? { tlsKeyPath: process.env.TEMPORAL_TLS_KEY_PATH } : {}),
    ...(process.env.TEMPORAL_API_KEY ? { apiKey: process.env.TEMPORAL_API_KEY } : {}),
  };
}
