DROP INDEX "events_user_time_idx";--> statement-breakpoint
CREATE INDEX "events_user_name_time_idx" ON "events" USING btree ("workspace_id","user_id","name","timestamp");