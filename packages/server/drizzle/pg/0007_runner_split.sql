ALTER TABLE "runners" ADD COLUMN "url" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "labels" text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "report" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "draining" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "lease_generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "runner_labels" text;