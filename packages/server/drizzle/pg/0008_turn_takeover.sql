ALTER TABLE "messages" ADD COLUMN "source_index" integer;--> statement-breakpoint
ALTER TABLE "session_events" ADD COLUMN "source_index" integer;