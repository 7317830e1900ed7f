import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getSegments } from "../api/management.server";

/** GET all segments with member counts (secret key). */
export const loader = ({ request, context }: LoaderFunctionArgs) => getSegments(request, context.services);
export const action = ({ request, context }: ActionFunctionArgs) => getSegments(request, context.services);
