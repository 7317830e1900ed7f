import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeyExport } from "../api/management.server";

/** GET the journey document (?version=N) (secret key). */
export const loader = ({ request, context, params }: LoaderFunctionArgs) => journeyExport(request, context.services, params.journeyId);
export const action = ({ request, context, params }: ActionFunctionArgs) => journeyExport(request, context.services, params.journeyId);
