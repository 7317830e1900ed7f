import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeyPublish } from "../api/management.server";

/** POST publishes the draft (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeyPublish(request, context.services, params.journeyId);
export const action = ({ request, context, params }: ActionFunctionArgs) => journeyPublish(request, context.services, params.journeyId);
