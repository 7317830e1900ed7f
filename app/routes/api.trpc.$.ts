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
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") context.services.log.error("trpc error", { path, error: error.message });
    },
  });
}

export const loader = handle;
export const action = handle;
