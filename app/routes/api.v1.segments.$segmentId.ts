import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getSegmentById } from "../api/management.server";

/** GET one segment by id or key (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getSegmentById(request, context.services, params.segmentId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getSegmentById(request, context.services, params.segmentId ?? "");
