import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getUserEvents } from "../api/trigger.server";

/** GET the user's events, newest first, paged with ?before= (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getUserEvents(request, context.services, params.userId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getUserEvents(request, context.services, params.userId ?? "");
