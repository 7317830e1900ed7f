import { router } from "./init.server";
import { accountsRouter } from "./routers/accounts.server";
import { channelsRouter } from "./routers/channels.server";
import { journeysRouter } from "./routers/journeys.server";
import { operationsRouter } from "./routers/operations.server";
import { reportRouter } from "./routers/report.server";
import { segmentsRouter } from "./routers/segments.server";
import { settingsRouter } from "./routers/settings.server";
import { usersRouter } from "./routers/users.server";

/** One router per domain; each area adds its router here. */
export const appRouter = router({
  settings: settingsRouter,
  journeys: journeysRouter,
  users: usersRouter,
  segments: segmentsRouter,
  channels: channelsRouter,
  operations: operationsRouter,
  accounts: accountsRouter,
  report: reportRouter,
});

export type AppRouter = typeof appRouter;
