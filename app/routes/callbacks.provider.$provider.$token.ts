import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { providerCallback } from "../channels/provider-callbacks.server";

/** Receipts and other callbacks of custom channel providers, signed per workspace (decision 0931). */
export const action = ({ request, context, params }: ActionFunctionArgs) => providerCallback(context.services, request, params.provider ?? "", params.token ?? "");
// Some services probe the address with GET before posting; the provider decides what to answer.
export const loader = ({ request, context, params }: LoaderFunctionArgs) => providerCallback(context.services, request, params.provider ?? "", params.token ?? "");
