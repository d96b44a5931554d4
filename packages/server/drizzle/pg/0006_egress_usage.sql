ALTER TABLE "usage_records" ADD COLUMN "egress_allowed" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "egress_denied" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "egress_bytes_up" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "egress_bytes_down" bigint DEFAULT 0 NOT NULL;