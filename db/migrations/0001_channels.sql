CREATE TABLE "channel_settings" (
	"workspace_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"provider" text,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid,
	CONSTRAINT "channel_settings_workspace_id_kind_pk" PRIMARY KEY("workspace_id","kind")
);
--> statement-breakpoint
CREATE TABLE "device_tokens" (
	"workspace_id" uuid NOT NULL,
	"token" text NOT NULL,
	"user_id" text NOT NULL,
	"platform" text DEFAULT 'android' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	"retired_reason" text,
	CONSTRAINT "device_tokens_workspace_id_token_pk" PRIMARY KEY("workspace_id","token")
);
--> statement-breakpoint
CREATE TABLE "frequency_counters" (
	"workspace_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"cap_key" text NOT NULL,
	"window_start" date NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "frequency_counters_workspace_id_user_id_cap_key_window_start_pk" PRIMARY KEY("workspace_id","user_id","cap_key","window_start")
);
--> statement-breakpoint
CREATE TABLE "message_state_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" uuid NOT NULL,
	"workspace_id" uuid NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"detail" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"user_id" text NOT NULL,
	"journey_id" text,
	"instance_id" text,
	"node_id" text,
	"channel" text NOT NULL,
	"category" text NOT NULL,
	"provider" text,
	"address" text,
	"content" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"truncations" jsonb,
	"state" text DEFAULT 'queued' NOT NULL,
	"failure_reason" text,
	"failure_detail" text,
	"provider_code" text,
	"provider_message_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"defer_until" timestamp with time zone,
	"lease_until" timestamp with time zone,
	"provider_call_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"clicked_at" timestamp with time zone,
	"failed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"workspace_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"address" text NOT NULL,
	"user_id" text,
	"scope" text NOT NULL,
	"reason" text NOT NULL,
	"source" text NOT NULL,
	"message_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_workspace_id_channel_address_pk" PRIMARY KEY("workspace_id","channel","address")
);
--> statement-breakpoint
ALTER TABLE "channel_settings" ADD CONSTRAINT "channel_settings_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_tokens" ADD CONSTRAINT "device_tokens_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "frequency_counters" ADD CONSTRAINT "frequency_counters_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_state_history" ADD CONSTRAINT "message_state_history_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "suppressions" ADD CONSTRAINT "suppressions_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_tokens_user_idx" ON "device_tokens" USING btree ("workspace_id","user_id");--> statement-breakpoint
CREATE INDEX "message_state_history_message_idx" ON "message_state_history" USING btree ("message_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_idempotency_unique" ON "messages" USING btree ("workspace_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "messages_user_idx" ON "messages" USING btree ("workspace_id","user_id","created_at");--> statement-breakpoint
CREATE INDEX "messages_journey_idx" ON "messages" USING btree ("workspace_id","journey_id","created_at");--> statement-breakpoint
CREATE INDEX "messages_address_idx" ON "messages" USING btree ("workspace_id","address");--> statement-breakpoint
CREATE INDEX "messages_provider_id_idx" ON "messages" USING btree ("provider","provider_message_id");--> statement-breakpoint
CREATE INDEX "messages_awaiting_receipt_idx" ON "messages" USING btree ("provider","sent_at") WHERE "messages"."state" = 'sent';--> statement-breakpoint
CREATE INDEX "suppressions_user_idx" ON "suppressions" USING btree ("workspace_id","user_id");