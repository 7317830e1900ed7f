CREATE TABLE "journey_entry_ledger" (
	"journey_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"entries" integer DEFAULT 0 NOT NULL,
	"last_entered_at" timestamp with time zone,
	CONSTRAINT "journey_entry_ledger_journey_id_user_id_pk" PRIMARY KEY("journey_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "journey_entry_ledger" ADD CONSTRAINT "journey_entry_ledger_journey_id_journeys_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("id") ON DELETE cascade ON UPDATE no action;