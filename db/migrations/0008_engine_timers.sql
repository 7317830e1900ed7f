CREATE TABLE "journey_timers" (
	"wake_at" timestamp with time zone NOT NULL,
	"instance_id" uuid NOT NULL,
	CONSTRAINT "journey_timers_wake_at_instance_id_pk" PRIMARY KEY("wake_at","instance_id")
);
--> statement-breakpoint
DROP INDEX "journey_instances_due_idx";--> statement-breakpoint
-- Existing waits move to the timers table (hand-written: drizzle-kit does not generate data moves).
INSERT INTO "journey_timers" ("wake_at", "instance_id")
SELECT "wake_at", "id" FROM "journey_instances" WHERE "status" = 'active' AND "wake_at" IS NOT NULL;
--> statement-breakpoint
-- Room on each page for the next version of a row, so an instance update can be heap-only (HOT).
ALTER TABLE "journey_instances" SET (fillfactor = 60);
