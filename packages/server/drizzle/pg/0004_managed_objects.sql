CREATE TABLE "managed_objects" (
	"tenant_id" text NOT NULL,
	"kind" text NOT NULL,
	"id" text NOT NULL,
	"version" integer NOT NULL,
	"data" text NOT NULL,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"archived_at" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "managed_objects_key" ON "managed_objects" USING btree ("tenant_id","kind","id","version");