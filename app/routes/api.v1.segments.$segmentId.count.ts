import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getSegmentCount } from "../api/management.server";

/** GET the live member count of a segment (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => getSegmentCount(request, context.services, params.segmentId ?? "");
export const action = ({ request, context, params }: ActionFunctionArgs) => getSegmentCount(request, context.services, params.segmentId ?? "");
