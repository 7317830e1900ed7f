import { loadConfig } from "../../app/config.server";
import { createOperator, ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { notifyProfileChanged } from "../../app/segments/membership.server";
import type { Role } from "../../db/schema";
import { startServer, type RunningServer } from "../../cli/server";
import { createTestDb, type TestDb } from "./db";

export interface TestApp {
  services: AppServices;
  database: TestDb;
  workspaceId: string;
  server?: RunningServer;
  url: string;
  /** Creates an operator with a known password. */
  addOperator(role: Role, email?: string): Promise<{ email: string; password: string; id: string }>;
  close(): Promise<void>;
}

/** Services on a throwaway database, optionally served over HTTP (needs `npm run build`). */
export async function startTestApp(options: { serve?: boolean; now?: () => Date; env?: Record<string, string> } = {}): Promise<TestApp> {
  const database = await createTestDb();
  const config = loadConfig({ WAYPOST_LOG_LEVEL: "silent", WAYPOST_DEMO_DATA: "false", NODE_ENV: "test", ...options.env });
  const services: AppServices = {
    config,
    database,
    db: database.db,
    log: createLogger("silent"),
    now: options.now ?? (() => new Date()),
  };
  // As createServices wires it: message states re-evaluate segments with message rules.
  services.profileChanged = (workspaceId, userIds, signals) => notifyProfileChanged(services, workspaceId, userIds, signals);
  const workspace = await ensureDefaultWorkspace(database.db);
  const server = options.serve ? await startServer(services, { port: 0, host: "127.0.0.1" }) : undefined;
  let counter = 0;
  return {
    services,
    database,
    workspaceId: workspace.id,
    server,
    url: server?.url ?? "",
    addOperator: async (role, email) => {
      const password = `pw-${role}-${++counter}-secret`;
      const created = await createOperator(database.db, { workspaceId: workspace.id, email: email ?? `${role}${counter}@example.com`, role, password });
      return { email: created.email, password, id: created.id };
    },
    close: async () => {
      await server?.close();
      await database.drop();
    },
  };
}
