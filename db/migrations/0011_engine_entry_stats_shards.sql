ALTER TABLE "journey_entry_stats" ADD COLUMN "shard" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "journey_entry_stats" DROP CONSTRAINT "journey_entry_stats_journey_id_version_id_day_outcome_pk";--> statement-breakpoint
ALTER TABLE "journey_entry_stats" ADD CONSTRAINT "journey_entry_stats_journey_id_version_id_day_outcome_shard_pk" PRIMARY KEY("journey_id","version_id","day","outcome","shard");
