CREATE TABLE "journey_node_rollup" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"cohort" timestamp with time zone NOT NULL,
	"node_id" text NOT NULL,
	"kind" text NOT NULL,
	"output" text NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"channel" text NOT NULL,
	"extra" text NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "journey_node_rollup_journey_id_version_id_cohort_node_id_kind_output_reason_status_channel_extra_pk" PRIMARY KEY("journey_id","version_id","cohort","node_id","kind","output","reason","status","channel","extra")
);
--> statement-breakpoint
CREATE TABLE "journey_node_rollup_pending" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"cohort" timestamp with time zone NOT NULL,
	"node_id" text NOT NULL,
	"kind" text NOT NULL,
	"output" text NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"channel" text NOT NULL,
	"extra" text NOT NULL,
	"n" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "journey_node_rollup_pending_journey_idx" ON "journey_node_rollup_pending" USING btree ("journey_id");