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
  });
}

export const loader = handle;
export const action = handle;
