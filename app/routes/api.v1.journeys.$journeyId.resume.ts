import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeySetStatus } from "../api/management.server";

/** POST resumes a paused journey (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeySetStatus(request, context.services, params.journeyId, "live");
export const action = ({ request, context, params }: ActionFunctionArgs) => journeySetStatus(request, context.services, params.journeyId, "live");
