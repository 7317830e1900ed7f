import type { LoaderFunctionArgs } from "@remix-run/node";
import { openPixel } from "../channels/http.server";

/** Email open pixel (signed link). */
export const loader = ({ context, params }: LoaderFunctionArgs) => openPixel(context.services, params.token ?? "");
