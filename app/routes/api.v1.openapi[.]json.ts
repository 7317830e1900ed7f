import type { LoaderFunctionArgs } from "@remix-run/node";
import { jsonResponse } from "../ingest/http.server";
import { openApiDocument } from "../api/openapi.server";

/** The OpenAPI 3.1 document of the ingestion and management APIs (public). */
export const loader = ({ context }: LoaderFunctionArgs) =>
  jsonResponse(200, openApiDocument(context.services.config.WAYPOST_PUBLIC_URL), { "cache-control": "public, max-age=300", "access-control-allow-origin": "*" });
