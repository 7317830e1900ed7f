import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getUserMessages } from "../api/management.server";

/** GET the messages sent to a user (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getUserMessages(request, context.services, params.userId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getUserMessages(request, context.services, params.userId ?? "");
