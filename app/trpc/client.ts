import { createTRPCReact } from "@trpc/react-query";
import type { AppRouter } from "./router.server";

export const trpc = createTRPCReact<AppRouter>();
