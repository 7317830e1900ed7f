import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { handleIngest } from "../ingest/http.server";

/** Segment-compatible `track` call (POST). See docs/api.md. */
export const action = ({ request, context }: ActionFunctionArgs) => handleIngest(request, context.services, "track");

/** Anything but POST answers 405. */
export const loader = ({ request, context }: LoaderFunctionArgs) => handleIngest(request, context.services, "track");
