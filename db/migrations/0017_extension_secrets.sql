CREATE TABLE "extension_secrets" (
	"workspace_id" uuid NOT NULL,
	"node_type" text NOT NULL,
	"name" text NOT NULL,
	"sealed" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid,
	CONSTRAINT "extension_secrets_workspace_id_node_type_name_pk" PRIMARY KEY("workspace_id","node_type","name")
);
--> statement-breakpoint
ALTER TABLE "extension_secrets" ADD CONSTRAINT "extension_secrets_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;