import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { journeysCollection } from "../api/management.server";

/** GET lists journeys; POST imports a journey document (secret key). */
export const loader = ({ request, context }: LoaderFunctionArgs) => journeysCollection(request, context.services);
export const action = ({ request, context }: ActionFunctionArgs) => journeysCollection(request, context.services);
