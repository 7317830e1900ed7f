import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeyStatsEndpoint } from "../api/management.server";

/** GET entries, instances, per-node counts, messages and conversions (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeyStatsEndpoint(request, context.services, params.journeyId);
export const action = ({ request, context, params }: ActionFunctionArgs) => journeyStatsEndpoint(request, context.services, params.journeyId);
