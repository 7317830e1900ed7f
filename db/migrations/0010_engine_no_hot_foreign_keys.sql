ALTER TABLE "messages" DROP CONSTRAINT "messages_workspace_id_workspaces_id_fk";
--> statement-breakpoint
ALTER TABLE "journey_entry_ledger" DROP CONSTRAINT "journey_entry_ledger_journey_id_journeys_id_fk";
--> statement-breakpoint
ALTER TABLE "journey_instances" DROP CONSTRAINT "journey_instances_workspace_id_workspaces_id_fk";
--> statement-breakpoint
ALTER TABLE "journey_instances" DROP CONSTRAINT "journey_instances_journey_id_journeys_id_fk";
