import type { LoaderFunctionArgs } from "@remix-run/node";
import { clickRedirect } from "../channels/http.server";

/** Email click redirect (signed link; a tampered one is 400, never an open redirect). */
export const loader = ({ context, params }: LoaderFunctionArgs) => clickRedirect(context.services, params.token ?? "");
