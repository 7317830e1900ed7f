import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getUserJourneys } from "../api/management.server";

/** GET a user's journey instances (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getUserJourneys(request, context.services, params.userId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getUserJourneys(request, context.services, params.userId ?? "");
