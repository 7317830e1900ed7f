import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { emailBounce } from "../channels/http.server";

/** Bounce webhook: the relay (or a mailbox forwarder) POSTs the raw DSN. */
export const action = ({ request, context, params }: ActionFunctionArgs) => emailBounce(context.services, request, params.token ?? "");
export const loader = ({ request, context, params }: LoaderFunctionArgs) => emailBounce(context.services, request, params.token ?? "");
