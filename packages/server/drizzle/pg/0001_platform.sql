CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"label" text,
	"created_at" text NOT NULL,
	"last_used_at" text,
	"revoked_at" text
);
--> statement-breakpoint
CREATE TABLE "attachments" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"session_id" text NOT NULL,
	"message_id" text,
	"filename" text NOT NULL,
	"stored_name" text NOT NULL,
	"mime_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"storage_key" text NOT NULL,
	"created_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "credentials" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"type" text NOT NULL,
	"label" text,
	"ciphertext" text NOT NULL,
	"iv" text NOT NULL,
	"auth_tag" text NOT NULL,
	"salt" text NOT NULL,
	"kdf" text NOT NULL,
	"active" integer NOT NULL,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"last_used_at" text
);
--> statement-breakpoint
CREATE TABLE "queue_items" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"agent_name" text NOT NULL,
	"session_id" text,
	"prompt" text NOT NULL,
	"options" text NOT NULL,
	"status" text NOT NULL,
	"priority" integer NOT NULL,
	"retry_count" integer NOT NULL,
	"max_retries" integer NOT NULL,
	"run_at" text NOT NULL,
	"error" text,
	"result" text,
	"claimed_by" text,
	"claimed_at" text,
	"heartbeat_at" text,
	"created_at" text NOT NULL,
	"started_at" text,
	"completed_at" text
);
--> statement-breakpoint
CREATE TABLE "runners" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"max_sandboxes" integer NOT NULL,
	"active_count" integer NOT NULL,
	"last_heartbeat_at" text NOT NULL,
	"registered_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenant_settings" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"budget_usd" double precision,
	"updated_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_records" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"session_id" text,
	"agent_name" text,
	"turn_id" text,
	"kind" text NOT NULL,
	"dedupe_key" text,
	"model" text,
	"input_tokens" integer NOT NULL,
	"output_tokens" integer NOT NULL,
	"cache_creation_tokens" integer NOT NULL,
	"cache_read_tokens" integer NOT NULL,
	"tool_calls" integer NOT NULL,
	"compute_seconds" double precision NOT NULL,
	"cost_usd" double precision NOT NULL,
	"sdk_cost_usd" double precision,
	"price_version" text,
	"created_at" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "storage_key" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "budget_usd" double precision;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "snapshot_key" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "snapshot_at" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "paused_at" text;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_tenant" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "attachments_session" ON "attachments" USING btree ("tenant_id","session_id");--> statement-breakpoint
CREATE INDEX "credentials_tenant" ON "credentials" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "queue_status_run" ON "queue_items" USING btree ("status","run_at","priority");--> statement-breakpoint
CREATE INDEX "queue_tenant" ON "queue_items" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "usage_dedupe" ON "usage_records" USING btree ("tenant_id","dedupe_key");--> statement-breakpoint
CREATE INDEX "usage_tenant_time" ON "usage_records" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "usage_session" ON "usage_records" USING btree ("session_id");