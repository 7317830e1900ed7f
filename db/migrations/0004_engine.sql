CREATE TABLE "engine_effects" (
	"workspace_id" uuid NOT NULL,
	"key" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "engine_effects_workspace_id_key_pk" PRIMARY KEY("workspace_id","key")
);
--> statement-breakpoint
CREATE TABLE "journey_entry_stats" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"day" date NOT NULL,
	"outcome" text NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "journey_entry_stats_journey_id_version_id_day_outcome_pk" PRIMARY KEY("journey_id","version_id","day","outcome")
);
--> statement-breakpoint
CREATE TABLE "journey_instance_events" (
	"instance_id" uuid NOT NULL,
	"message_id" text NOT NULL,
	CONSTRAINT "journey_instance_events_instance_id_message_id_pk" PRIMARY KEY("instance_id","message_id")
);
--> statement-breakpoint
CREATE TABLE "journey_instances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" uuid NOT NULL,
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"entry_key" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"node_id" text,
	"holdout" boolean DEFAULT false NOT NULL,
	"state" jsonb NOT NULL,
	"wake_at" timestamp with time zone,
	"awaiting" text[] DEFAULT '{}'::text[] NOT NULL,
	"entered_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "journey_node_events" (
	"instance_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"workspace_id" uuid NOT NULL,
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"node_id" text,
	"kind" text NOT NULL,
	"output" text,
	"reason" text,
	"message_status" text,
	"channel" text,
	"data" jsonb,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "journey_node_events_instance_id_seq_pk" PRIMARY KEY("instance_id","seq")
);
--> statement-breakpoint
CREATE TABLE "journey_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"instance_id" uuid NOT NULL,
	"workspace_id" uuid NOT NULL,
	"run_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"command" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey_schedule_cursors" (
	"version_id" uuid PRIMARY KEY NOT NULL,
	"journey_id" uuid NOT NULL,
	"active_from" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey_schedule_runs" (
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"run_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone NOT NULL,
	"entered" integer DEFAULT 0 NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "journey_schedule_runs_journey_id_run_at_pk" PRIMARY KEY("journey_id","run_at")
);
--> statement-breakpoint
ALTER TABLE "journey_entry_stats" ADD CONSTRAINT "journey_entry_stats_journey_id_journeys_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey_instances" ADD CONSTRAINT "journey_instances_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey_instances" ADD CONSTRAINT "journey_instances_journey_id_journeys_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey_schedule_cursors" ADD CONSTRAINT "journey_schedule_cursors_journey_id_journeys_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey_schedule_runs" ADD CONSTRAINT "journey_schedule_runs_journey_id_journeys_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "journey_instances_entry_unique" ON "journey_instances" USING btree ("journey_id","user_id","entry_key");--> statement-breakpoint
CREATE INDEX "journey_instances_due_idx" ON "journey_instances" USING btree ("wake_at") WHERE "journey_instances"."status" = 'active' and "journey_instances"."wake_at" is not null;--> statement-breakpoint
CREATE INDEX "journey_instances_user_active_idx" ON "journey_instances" USING btree ("workspace_id","user_id") WHERE "journey_instances"."status" = 'active';--> statement-breakpoint
CREATE INDEX "journey_instances_journey_idx" ON "journey_instances" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "journey_node_events_journey_idx" ON "journey_node_events" USING btree ("journey_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "journey_outbox_run_unique" ON "journey_outbox" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "journey_outbox_due_idx" ON "journey_outbox" USING btree ("next_attempt_at");