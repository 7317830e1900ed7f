import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { json } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import flowStyles from "@xyflow/react/dist/style.css";
import { eq } from "drizzle-orm";
import { workspaces } from "../../db/schema";
import canvasStyles from "../canvas/canvas.css";
import { Editor } from "../canvas/Editor";
import { journeyVocabulary, toEditorJourney } from "../lib/journey-list.server";
import { getJourney, JourneyNotFoundError } from "../lib/journeys.server";
import { requireSession } from "../lib/session.server";
import { roleMay } from "../lib/permissions";
import { testRunPolicies } from "../lib/test-run-users.server";

// React Flow's own stylesheet first, so the canvas styles can refine it.
export const links: LinksFunction = () => [
  { rel: "stylesheet", href: flowStyles },
  { rel: "stylesheet", href: canvasStyles },
];

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: data ? `${data.journey.name} · Waypost` : "Waypost" }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const db = context.services.db;
  try {
    const [detail, vocabulary, [workspace], policies] = await Promise.all([
      getJourney(db, session.workspaceId, params.journeyId ?? ""),
      journeyVocabulary(db, session.workspaceId),
      db.select({ timezone: workspaces.timezone }).from(workspaces).where(eq(workspaces.id, session.workspaceId)),
      // The test run applies the workspace's sending policies, as the engine does.
      testRunPolicies(db, session.workspaceId),
    ]);
    return json({
      journey: toEditorJourney(detail),
      vocabulary,
      workspaceTimezone: workspace?.timezone ?? "UTC",
      policies,
      canEdit: roleMay(session.role, "journeys.edit"),
      canPause: roleMay(session.role, "journeys.pause"),
      canResume: roleMay(session.role, "journeys.resume"),
      canMove: roleMay(session.role, "instances.operate"),
    });
  } catch (error) {
    // A malformed id is as absent as an unknown one.
    if (error instanceof JourneyNotFoundError || (error instanceof Error && /uuid/i.test(error.message))) throw new Response("Not found", { status: 404 });
    throw error;
  }
}

export default function JourneyEditorPage() {
  const data = useLoaderData<typeof loader>();
  return <Editor key={data.journey.id} journey={data.journey} workspaceTimezone={data.workspaceTimezone} policies={data.policies} canEdit={data.canEdit} canPause={data.canPause} canResume={data.canResume} canMove={data.canMove} vocabulary={data.vocabulary} />;
}
