CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"version" integer NOT NULL,
	"description" text,
	"env" text NOT NULL,
	"config" text NOT NULL,
	"file_count" integer NOT NULL,
	"size_bytes" integer NOT NULL,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"session_id" text NOT NULL,
	"role" text NOT NULL,
	"type" text NOT NULL,
	"content" text NOT NULL,
	"text" text NOT NULL,
	"sequence" integer NOT NULL,
	"turn_id" text,
	"created_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session_events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"session_id" text NOT NULL,
	"type" text NOT NULL,
	"data" text NOT NULL,
	"sequence" integer NOT NULL,
	"turn_id" text,
	"created_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"agent_name" text NOT NULL,
	"agent_version" integer NOT NULL,
	"status" text NOT NULL,
	"runner_id" text,
	"owner_id" text,
	"parent_session_id" text,
	"model" text,
	"config" text NOT NULL,
	"extra_env" text,
	"credential_id" text,
	"active_turn_id" text,
	"turn_started_at" text,
	"last_event_seq" integer NOT NULL,
	"last_message_seq" integer NOT NULL,
	"created_at" text NOT NULL,
	"last_active_at" text NOT NULL,
	"ended_at" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "agents_tenant_name" ON "agents" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_session_seq" ON "messages" USING btree ("session_id","sequence");--> statement-breakpoint
CREATE UNIQUE INDEX "session_events_session_seq" ON "session_events" USING btree ("session_id","sequence");--> statement-breakpoint
CREATE INDEX "sessions_tenant_created" ON "sessions" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "sessions_tenant_agent" ON "sessions" USING btree ("tenant_id","agent_name");--> statement-breakpoint
CREATE INDEX "sessions_owner" ON "sessions" USING btree ("owner_id");