import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeyTrigger } from "../api/trigger.server";

/** POST enters one user (or a batch) into an API-triggered journey (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeyTrigger(request, context.services, params.journeyId);
export const action = ({ request, context, params }: ActionFunctionArgs) => journeyTrigger(request, context.services, params.journeyId);
