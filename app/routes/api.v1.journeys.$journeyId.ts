import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeyItem } from "../api/management.server";

/** GET a journey's status and versions (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeyItem(request, context.services, params.journeyId);
export const action = ({ request, context, params }: ActionFunctionArgs) => journeyItem(request, context.services, params.journeyId);
