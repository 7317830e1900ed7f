import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getSession } from "../lib/session.server";
import { appRouter } from "../trpc/router.server";

function handle({ request, context }: LoaderFunctionArgs | ActionFunctionArgs) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: async () => ({ services: context.services, session: await getSession(request, context) }),
    // Unexpected failures are logged once, with the request id the client sees, by the error formatter.
    // A sign-in lock or a full password-hash queue (decisions 0720, 0721) says when to come back.
    responseMeta: ({ errors }) => {
      const seconds = errors.map((e) => (e.cause as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds).find((v) => typeof v === "number");
      return seconds ? { headers: new Headers({ "Retry-After": String(seconds) }) } : {};
    },
  });
}

export const loader = handle;
export const action = handle;
