DROP INDEX "users_email_idx";--> statement-breakpoint
DROP INDEX "users_phone_idx";--> statement-breakpoint
DROP INDEX "users_tags_idx";--> statement-breakpoint
CREATE INDEX "users_email_idx" ON "users" USING btree ("workspace_id","email" text_pattern_ops) WHERE "users"."email" is not null;--> statement-breakpoint
CREATE INDEX "users_phone_idx" ON "users" USING btree ("workspace_id","phone" text_pattern_ops) WHERE "users"."phone" is not null;--> statement-breakpoint
CREATE INDEX "users_tags_idx" ON "users" USING gin ("tags") WHERE cardinality("users"."tags") > 0;