import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getUser } from "../api/management.server";

/** GET a user's profile; DELETE erases everything about them (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getUser(request, context.services, params.userId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getUser(request, context.services, params.userId ?? "");
