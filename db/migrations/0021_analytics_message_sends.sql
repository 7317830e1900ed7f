CREATE TABLE "analytics_time_zones" (
	"name" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey_message_rollup" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"cohort" timestamp with time zone NOT NULL,
	"node_id" text NOT NULL,
	"measure" text NOT NULL,
	"bucket" smallint NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "journey_message_rollup_journey_id_version_id_cohort_node_id_measure_bucket_pk" PRIMARY KEY("journey_id","version_id","cohort","node_id","measure","bucket")
);
--> statement-breakpoint
CREATE TABLE "journey_message_rollup_pending" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"cohort" timestamp with time zone NOT NULL,
	"node_id" text NOT NULL,
	"measure" text NOT NULL,
	"bucket" smallint NOT NULL,
	"n" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey_message_sends" (
	"instance_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"workspace_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"cohort" timestamp with time zone NOT NULL,
	"node_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"local_hour" smallint NOT NULL,
	"first" boolean NOT NULL,
	"converted" boolean NOT NULL,
	"returned_at" timestamp with time zone,
	CONSTRAINT "journey_message_sends_instance_id_seq_pk" PRIMARY KEY("instance_id","seq")
);
--> statement-breakpoint
CREATE INDEX "journey_message_rollup_pending_journey_idx" ON "journey_message_rollup_pending" USING btree ("journey_id");--> statement-breakpoint
CREATE INDEX "journey_message_sends_user_idx" ON "journey_message_sends" USING btree ("workspace_id","user_id","at");--> statement-breakpoint
CREATE INDEX "journey_message_sends_journey_idx" ON "journey_message_sends" USING btree ("journey_id","cohort") WHERE "journey_message_sends"."first";